"""Scenario "memory": multi-turn conversations kept by the gateway (this gateway only).

Each turn sends only the new message with a ``conversation_id``; the gateway adds the stored
context and stores the answer (in Redis with ``scripts/load_test.sh --redis``).
"""

from __future__ import annotations

import json
import uuid

import loadkit
from locust import FastHttpUser, constant, task


class ServerMemoryUser(FastHttpUser):
    wait_time = constant(0)
    turns = 6

    def on_start(self):
        self.turn = 0
        self.conversation = uuid.uuid4().hex

    @task
    def next_turn(self):
        if self.turn >= self.turns:
            self.turn, self.conversation = 0, uuid.uuid4().hex
        self.turn += 1
        body = json.loads(loadkit.chat_body([{"role": "user", "content": loadkit.words(15)}]))
        body["conversation_id"] = self.conversation
        loadkit.post_chat(self, json.dumps(body), "memory-turn")
