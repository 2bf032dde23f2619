"""RAG manager: chunked sources, a BM25 term index, ranked and de-duplicated retrieval, fusion.

Indexing
--------
A source (text or file) is cut into windows of ``chunk_size`` characters that start every
``chunk_size - chunk_overlap`` characters, so consecutive chunks share exactly
``chunk_overlap`` characters and the last chunk reaches the end of the text. Each chunk is
tokenised once, when its source is added (lower-cased Unicode ``\\w+`` words), and its term
counts are kept as small per-source numpy arrays (term ids, counts, chunk lengths).

The corpus-wide BM25 matrix (chunks × terms, scipy.sparse CSR built from those arrays, then
converted to CSC so a query can slice its term columns) is rebuilt *lazily*: adding or
removing a source only marks the index dirty; the next query concatenates the per-source
arrays (O(nnz) numpy work, no re-tokenising) and recomputes IDF and length normalisation.
A burst of adds therefore costs one rebuild, and a query after a quiet period costs none.

Ranking
-------
BM25 (Okapi, k1=1.5, b=0.75, IDF ``log(1 + (N - df + 0.5)/(df + 0.5))`` which is never
negative). Scores come from one sparse product: the query's term columns times the query's
term counts. Ties are broken by chunk order (source insertion order, then position in the
source) using a stable sort, so results are deterministic. Walking the ranking, a chunk is
skipped when its source already has ``per_source_cap`` chunks, when its normalised token
sequence equals an accepted chunk's, or when its word-3-shingle Jaccard similarity to an
accepted chunk reaches ``dedup_threshold`` (near duplicate).

numpy and scipy are imported where they are used, so creating a manager or fusing context
does not pay for them.

Fusion
------
:func:`fuse_context` joins chunks as ``[source #i]`` headers plus text within ``max_chars``
characters (Python ``str`` length, i.e. code points, so multi-byte UTF-8 characters count
once). Whole chunks are kept while they fit; the first one that does not is cut at a
character boundary that does not split a combining sequence and marked with ``…``; the rest
are dropped.
"""

from __future__ import annotations

import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from intellirouter.errors import InvalidQueryError, InvalidSourceError, SourceNotFoundError

if TYPE_CHECKING:  # numpy/scipy are imported where used: fusing needs neither
    import numpy as np

__all__ = [
    "RAGManager",
    "RetrievedChunk",
    "SourceInfo",
    "chunk_spans",
    "tokenize",
    "fuse_context",
    "TRUNCATION_MARKER",
]

TRUNCATION_MARKER = "…"
_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lower-cased Unicode word tokens."""
    return _TOKEN.findall(text.lower())


def chunk_spans(length: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) character spans of the chunks of a text of ``length`` characters."""
    if length <= 0:
        return []
    step = size - overlap
    spans = []
    start = 0
    while True:
        end = min(start + size, length)
        spans.append((start, end))
        if end >= length:
            return spans
        start += step


def _check_chunking(size: object, overlap: object) -> tuple[int, int]:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidSourceError(f"chunk_size must be an int >= 1, got {size!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise InvalidSourceError(f"chunk_overlap must be an int >= 0, got {overlap!r}")
    if overlap >= size:
        raise InvalidSourceError(f"chunk_overlap ({overlap}) must be smaller than chunk_size ({size})")
    return size, overlap


@dataclass(frozen=True)
class SourceInfo:
    name: str
    kind: str  # "text" or "file"
    path: str | None
    n_chars: int
    n_chunks: int
    chunk_size: int
    chunk_overlap: int


class RetrievedChunk(NamedTuple):
    """One retrieved chunk (a tuple: cheap to build, immutable)."""

    source: str
    chunk_index: int  # position of the chunk within its source
    start: int  # character span in the source text
    end: int
    text: str
    score: float


class _Source:
    """A source's chunks and their term counts, tokenised once."""

    __slots__ = ("info", "texts", "spans", "row_nnz", "cols", "tf", "doc_len", "norm_hash")

    def __init__(self, info, texts, spans, row_nnz, cols, tf, doc_len, norm_hash):
        self.info = info
        self.texts = texts
        self.spans = spans
        self.row_nnz = row_nnz
        self.cols = cols
        self.tf = tf
        self.doc_len = doc_len
        self.norm_hash = norm_hash


class _Index:
    """An immutable snapshot of the corpus-wide BM25 matrix and row bookkeeping."""

    __slots__ = ("weights", "row_source", "row_local", "sources", "texts", "norm_hash")

    def __init__(self, weights, row_source, row_local, sources, texts, norm_hash):
        self.weights = weights  # scipy.sparse CSC, chunks × terms, BM25 term weights
        self.row_source = row_source  # np.int32: row -> ordinal in ``sources``
        self.row_local = row_local  # np.int32: row -> chunk index within its source
        self.sources = sources  # list[_Source] in insertion order
        self.texts = texts  # list[str], row -> chunk text
        self.norm_hash = norm_hash  # list[bytes], row -> digest of the normalised token sequence


def _shingles(text: str) -> frozenset:
    toks = tokenize(text)
    if len(toks) < 3:
        return frozenset(toks)
    return frozenset(zip(toks, toks[1:], toks[2:]))


def _jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class RAGManager:
    """Sources → chunks → BM25 index → ranked, de-duplicated, capped context."""

    def __init__(
        self,
        chunk_size: int = 500,
        chunk_overlap: int = 50,
        *,
        k1: float = 1.5,
        b: float = 0.75,
        dedup_threshold: float = 0.8,
    ) -> None:
        self.chunk_size, self.chunk_overlap = _check_chunking(chunk_size, chunk_overlap)
        if not (k1 >= 0 and 0 <= b <= 1):
            raise InvalidSourceError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        if not (0 < dedup_threshold <= 1):
            raise InvalidSourceError(f"dedup_threshold must be in (0, 1], got {dedup_threshold}")
        self.k1 = float(k1)
        self.b = float(b)
        self.dedup_threshold = float(dedup_threshold)
        self._vocab: dict[str, int] = {}
        self._sources: dict[str, _Source] = {}
        self._index: _Index | None = None
        self._dirty = False
        self._lock = threading.RLock()

    # pickling (e.g. asv setup_cache, multiprocessing): everything but the lock
    def __getstate__(self) -> dict:
        with self._lock:
            state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # --- sources ------------------------------------------------------------------------
    def add_text(
        self, name: str, text: str, *, chunk_size: int | None = None, chunk_overlap: int | None = None
    ) -> SourceInfo:
        """Chunk and index a text source; O(len(text)) once, the index is rebuilt lazily."""
        return self._add(name, text, "text", None, chunk_size, chunk_overlap)

    def add_file(
        self,
        path: str | os.PathLike,
        *,
        name: str | None = None,
        encoding: str = "utf-8",
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
    ) -> SourceInfo:
        """Read a text file and add it as a source named ``name`` (default: the path)."""
        p = Path(path)
        try:
            text = p.read_text(encoding=encoding)
        except (OSError, UnicodeDecodeError, LookupError) as exc:
            raise InvalidSourceError(f"cannot read source file {str(p)!r}: {exc}") from None
        return self._add(str(p) if name is None else name, text, "file", str(p), chunk_size, chunk_overlap)

    def remove_source(self, name: str) -> None:
        with self._lock:
            if name not in self._sources:
                raise SourceNotFoundError(f"RAG source {name!r} not found")
            del self._sources[name]
            self._dirty = True

    def list_sources(self) -> list[SourceInfo]:
        with self._lock:
            return [s.info for s in self._sources.values()]

    def get_source(self, name: str) -> SourceInfo:
        with self._lock:
            try:
                return self._sources[name].info
            except KeyError:
                raise SourceNotFoundError(f"RAG source {name!r} not found") from None

    @property
    def num_chunks(self) -> int:
        with self._lock:
            return sum(s.info.n_chunks for s in self._sources.values())

    def _add(self, name, text, kind, path, chunk_size, chunk_overlap) -> SourceInfo:
        if not isinstance(name, str) or not name.strip():
            raise InvalidSourceError(f"source name must be a non-empty str, got {name!r}")
        if not isinstance(text, str):
            raise InvalidSourceError(f"source {name!r}: text must be a str, got {type(text).__name__}")
        if not text.strip():
            raise InvalidSourceError(f"source {name!r}: text is empty")
        size, overlap = _check_chunking(
            self.chunk_size if chunk_size is None else chunk_size,
            self.chunk_overlap if chunk_overlap is None else chunk_overlap,
        )
        spans = chunk_spans(len(text), size, overlap)
        texts = [text[s:e] for s, e in spans]
        info = SourceInfo(name, kind, path, len(text), len(spans), size, overlap)
        with self._lock:
            if name in self._sources:
                raise InvalidSourceError(f"source {name!r} already exists")
            self._sources[name] = self._tokenise_source(info, texts, spans)
            self._dirty = True
        return info

    def _tokenise_source(self, info, texts, spans) -> _Source:
        """Term ids and counts of every chunk, counted in one vectorised pass per source."""
        import numpy as np

        findall = _TOKEN.findall
        tokens: list[str] = []
        doc_len = np.empty(len(texts), dtype=np.int64)
        norm_hash = []
        for i, chunk in enumerate(texts):
            toks = findall(chunk.lower())
            doc_len[i] = len(toks)
            # a stable digest, not hash(): str hashes change per process, and a pickled
            # manager must still recognise duplicates of chunks added before it was saved
            norm_hash.append(blake2b(" ".join(toks).encode(), digest_size=8).digest())
            tokens += toks
        # new terms get ids in first-seen order; the per-token lookup then runs at C speed
        vocab = self._vocab
        new = [t for t in dict.fromkeys(tokens) if t not in vocab]
        vocab.update(zip(new, range(len(vocab), len(vocab) + len(new))))
        ids = np.fromiter(map(vocab.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        v = max(len(vocab), 1)
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), doc_len)
        keys, counts = np.unique(rows * v + ids, return_counts=True)
        row_nnz = np.bincount(keys // v, minlength=len(texts)).astype(np.int64)
        return _Source(
            info, texts, spans, row_nnz, (keys % v).astype(np.int32), counts.astype(np.float64), doc_len, norm_hash
        )

    # --- index ---------------------------------------------------------------------------
    def _snapshot(self) -> _Index | None:
        with self._lock:
            if self._dirty or self._index is None:
                self._index = self._build_index() if self._sources else None
                self._dirty = False
            return self._index

    def build_index(self) -> None:
        """Rebuild the BM25 matrix now instead of on the next query (e.g. after bulk adds)."""
        self._snapshot()

    def _build_index(self) -> _Index:
        import numpy as np
        from scipy import sparse  # deferred: creating a manager or adding text needs no scipy

        sources = list(self._sources.values())
        row_nnz = np.concatenate([s.row_nnz for s in sources])
        cols = np.concatenate([s.cols for s in sources])
        tf = np.concatenate([s.tf for s in sources])
        dl = np.concatenate([s.doc_len for s in sources]).astype(np.float64)
        n, v = len(dl), max(len(self._vocab), 1)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(row_nnz, out=indptr[1:])
        df = np.bincount(cols, minlength=v)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        avgdl = dl.mean() if dl.size and dl.mean() > 0 else 1.0
        norm = self.k1 * (1.0 - self.b + self.b * dl / avgdl)  # per row
        w = idf[cols] * tf * (self.k1 + 1.0) / (tf + np.repeat(norm, row_nnz))
        weights = sparse.csr_matrix((w, cols, indptr), shape=(n, v)).tocsc()
        counts = [s.info.n_chunks for s in sources]
        row_source = np.repeat(np.arange(len(sources), dtype=np.int32), counts)
        row_local = np.concatenate([np.arange(c, dtype=np.int32) for c in counts])
        texts = [t for s in sources for t in s.texts]
        hashes = [h for s in sources for h in s.norm_hash]
        return _Index(weights, row_source, row_local, sources, texts, hashes)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk (index order) for ``query``; zeros when nothing matches."""
        import numpy as np

        if not isinstance(query, str):
            raise InvalidQueryError(f"query must be a str, got {type(query).__name__}")
        index = self._snapshot()
        if index is None:
            return np.zeros(0)
        return self._score(index, query)

    def _score(self, index: _Index, query: str) -> np.ndarray:
        import numpy as np

        vocab = self._vocab
        qids = [vocab[t] for t in tokenize(query) if t in vocab]
        n = index.weights.shape[0]
        if not qids:
            return np.zeros(n)
        cols, qtf = np.unique(np.asarray(qids, dtype=np.int64), return_counts=True)
        cols_ok = cols < index.weights.shape[1]  # terms added after this snapshot
        cols, qtf = cols[cols_ok], qtf[cols_ok]
        return np.asarray(index.weights[:, cols] @ qtf.astype(np.float64)).ravel()

    # --- retrieval ------------------------------------------------------------------------
    def retrieve_context(
        self, query: str, max_chunks: int = 5, per_source_cap: int | None = None
    ) -> list[RetrievedChunk]:
        """The best ``max_chunks`` chunks for ``query``: BM25 rank, stable ties, no near
        duplicates, at most ``per_source_cap`` per source. Only chunks sharing a term with
        the query are returned."""
        if not isinstance(query, str):
            raise InvalidQueryError(f"query must be a str, got {type(query).__name__}")
        if isinstance(max_chunks, bool) or not isinstance(max_chunks, int) or max_chunks < 1:
            raise InvalidQueryError(f"max_chunks must be an int >= 1, got {max_chunks!r}")
        if per_source_cap is not None and (
            isinstance(per_source_cap, bool) or not isinstance(per_source_cap, int) or per_source_cap < 1
        ):
            raise InvalidQueryError(f"per_source_cap must be an int >= 1 or None, got {per_source_cap!r}")
        import numpy as np  # deferred: fusing or creating a manager needs no numpy

        index = self._snapshot()
        if index is None:
            return []
        scores = self._score(index, query)
        cand = np.flatnonzero(scores > 0)  # ascending chunk order
        if cand.size == 0:
            return []
        picked: list[RetrievedChunk] = []
        state = ({}, set(), [])  # per-source counts, accepted hashes, accepted shingles
        # Rank only the head first (all chunks tied with the m-th best included, so the
        # stable tie-break stays exact); fall back to the rest when caps/dedup reject too many.
        m = min(cand.size, max(4 * max_chunks, 32))
        cand_scores = scores[cand]
        if m < cand.size:
            threshold = np.partition(cand_scores, cand.size - m)[cand.size - m]
            head_mask = cand_scores >= threshold
            batches = (cand[head_mask], cand[~head_mask])
        else:
            batches = (cand,)
        for batch in batches:
            order = batch[np.argsort(-scores[batch], kind="stable")]
            if self._walk(index, order, scores, max_chunks, per_source_cap, state, picked):
                break
        return picked

    def _walk(self, index, order, scores, max_chunks, cap, state, picked) -> bool:
        per_source, seen_hash, seen_shingles = state
        for row in order.tolist():
            src = int(index.row_source[row])
            if cap is not None and per_source.get(src, 0) >= cap:
                continue
            h = index.norm_hash[row]
            if h in seen_hash:
                continue
            text = index.texts[row]
            sh = _shingles(text)
            if any(_jaccard(sh, other) >= self.dedup_threshold for other in seen_shingles):
                continue
            seen_hash.add(h)
            seen_shingles.append(sh)
            per_source[src] = per_source.get(src, 0) + 1
            source = index.sources[src]
            local = int(index.row_local[row])
            start, end = source.spans[local]
            picked.append(RetrievedChunk(source.info.name, local, start, end, text, float(scores[row])))
            if len(picked) >= max_chunks:
                return True
        return False

    def fuse_context(self, chunks: Sequence[RetrievedChunk], max_chars: int) -> str:
        return fuse_context(chunks, max_chars)

    def inject_context(
        self,
        messages: Sequence[Any],
        query: str,
        *,
        max_chunks: int = 5,
        per_source_cap: int | None = None,
        max_chars: int = 4000,
        preamble: str = "Use the following context to answer.",
    ) -> list[Any]:
        """A new message list with a system message holding the fused context prepended.

        Messages may be ``intellirouter.memory.Message`` objects or ``{"role", "content"}``
        dicts; the system message takes the same form. Nothing relevant → a plain copy.
        """
        messages = list(messages)
        chunks = self.retrieve_context(query, max_chunks, per_source_cap)
        budget = max_chars - len(preamble) - 1
        context = fuse_context(chunks, budget) if chunks and budget > 0 else ""
        if not context:
            return messages
        content = f"{preamble}\n{context}"
        if messages and isinstance(messages[0], dict):
            return [{"role": "system", "content": content}, *messages]
        from intellirouter.memory import Message

        # the first message's timestamp keeps the list chronological
        first_ts = getattr(messages[0], "timestamp", None) if messages else None
        ts = first_ts if isinstance(first_ts, (int, float)) else time.time()
        return [Message("system", content, ts), *messages]


# --- fusion ----------------------------------------------------------------------------
_JOINERS = frozenset("\u200d\ufe0e\ufe0f")  # ZWJ, variation selectors


def _is_ri(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"  # regional indicator (flag halves)


def _safe_cut(text: str, n: int) -> int:
    """Largest cut <= n that does not split a base character from its combining marks,
    a ZWJ sequence, a skin-tone modifier or a flag's pair of regional indicators."""
    n = min(n, len(text))
    while 0 < n < len(text):
        nxt, prev = text[n], text[n - 1]
        if unicodedata.combining(nxt) or nxt in _JOINERS or prev == "\u200d" or "\U0001f3fb" <= nxt <= "\U0001f3ff":
            n -= 1
            continue
        if _is_ri(nxt) and _is_ri(prev):
            run = 0
            while n - run - 1 >= 0 and _is_ri(text[n - run - 1]):
                run += 1
            if run % 2 == 1:  # we'd be cutting inside a pair
                n -= 1
                continue
        break
    return n


def _header(chunk: RetrievedChunk) -> str:
    return f"[{chunk.source} #{chunk.chunk_index}]\n"


def fuse_context(
    chunks: Iterable[RetrievedChunk], max_chars: int, *, separator: str = "\n\n", marker: str = TRUNCATION_MARKER
) -> str:
    """Join chunks under ``[source #i]`` headers within ``max_chars`` characters.

    Whole chunks while they fit; the first that does not is truncated at a safe character
    boundary and ends with ``marker``; later chunks are dropped. ``len(result) <= max_chars``.
    """
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 0:
        raise InvalidQueryError(f"max_chars must be an int >= 0, got {max_chars!r}")
    parts: list[str] = []
    used = 0
    for chunk in chunks:
        sep = separator if parts else ""
        header = _header(chunk)
        size = len(sep) + len(header) + len(chunk.text)
        if used + size <= max_chars:
            parts += (sep, header, chunk.text)
            used += size
            continue
        room = max_chars - used - len(sep) - len(header) - len(marker)
        if room > 0:
            cut = _safe_cut(chunk.text, room)
            if cut > 0:
                parts += (sep, header, chunk.text[:cut], marker)
        break
    return "".join(parts)
