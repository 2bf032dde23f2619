"""Scenario "short": short chats only, the simplest gateway path (one small request, one answer)."""

from __future__ import annotations

import loadkit
from locust import FastHttpUser, constant, task


class ShortChatUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def short_chat(self):
        body = loadkit.chat_body([{"role": "user", "content": loadkit.words(20)}])
        loadkit.post_chat(self, body, "short")
