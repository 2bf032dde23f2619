"""Scenario "mix": the realistic user mix, identical against every target.

- ChatUser: short questions (most traffic), now and then a long context (a pasted
  document) or a streamed answer.
- ConversationUser: multi-turn conversations kept by the client, as OpenAI clients do:
  every turn resends the history, which grows until the conversation restarts.

No think time: each user sends its next request as soon as the last one is answered, so
the user count is the concurrency. Request bodies come from a seeded generator.
"""

from __future__ import annotations

import loadkit
from locust import FastHttpUser, constant, task


class ChatUser(FastHttpUser):
    weight = 3
    wait_time = constant(0)

    @task(6)
    def short_chat(self):
        body = loadkit.chat_body([{"role": "user", "content": loadkit.words(20)}])
        loadkit.post_chat(self, body, "short")

    @task(1)
    def long_context(self):
        document = loadkit.words(1500)  # ~ 2,000 tokens of pasted context
        messages = [
            {"role": "system", "content": "Answer from the document."},
            {"role": "user", "content": document + "\nSummarise."},
        ]
        loadkit.post_chat(self, loadkit.chat_body(messages, max_tokens=64), "long")

    @task(2)
    def streaming(self):
        body = loadkit.chat_body([{"role": "user", "content": loadkit.words(20)}], stream=True)
        loadkit.post_chat(self, body, "stream", stream=True)


class ConversationUser(FastHttpUser):
    weight = 1
    wait_time = constant(0)
    turns = 6

    def on_start(self):
        self.history: list[dict] = []

    @task
    def next_turn(self):
        if len(self.history) >= 2 * self.turns:
            self.history = []
        self.history.append({"role": "user", "content": loadkit.words(15)})
        reply = loadkit.post_chat(self, loadkit.chat_body(self.history), "turn")
        self.history.append({"role": "assistant", "content": reply or ""})
