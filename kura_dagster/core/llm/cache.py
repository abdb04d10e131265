"""A persistent cache of LLM and embedding responses in DuckDB, keyed by a hash of the request.

The key covers everything that changes the answer (model, messages, schema, temperature, prompt version)
and nothing that does not: never the chat_id, so two identical conversations share one cached answer
while keeping their own ids. The cache lives in its own DuckDB file, so holding it open during a run
never blocks the pipeline's table writes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np


def request_key(**parts: Any) -> str:
    """Stable SHA-256 of the request's parts (JSON with sorted keys)."""
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Chat answers (JSON text) and embedding vectors by request key. Writes are buffered and flushed."""

    def __init__(self, path: str | Path, flush_every: int = 50) -> None:
        self.path = Path(path)
        self.flush_every = flush_every
        self._lock = threading.Lock()
        self._connection = None
        self._pending_chat: list[tuple] = []
        self._pending_vectors: list[tuple] = []

    def _connect(self):
        if self._connection is None:
            from kura_dagster.core.storage.store import open_connection

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = open_connection(self.path)
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS chat_cache (key VARCHAR PRIMARY KEY, model VARCHAR, purpose VARCHAR, "
                "response VARCHAR, prompt_tokens INTEGER, completion_tokens INTEGER, created_at TIMESTAMP DEFAULT now())"
            )
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS embedding_cache (key VARCHAR PRIMARY KEY, model VARCHAR, vector FLOAT[], "
                "created_at TIMESTAMP DEFAULT now())"
            )
        return self._connection

    def get_chat(self, key: str) -> str | None:
        with self._lock:
            for pending in self._pending_chat:
                if pending[0] == key:
                    return pending[3]
            rows = self._connect().execute("SELECT response FROM chat_cache WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def put_chat(
        self, key: str, model: str, purpose: str, response: str, prompt_tokens: int, completion_tokens: int
    ) -> None:
        with self._lock:
            self._pending_chat.append((key, model, purpose, response, prompt_tokens, completion_tokens))
            if len(self._pending_chat) >= self.flush_every:
                self._flush_locked()

    def get_vectors(self, keys: list[str]) -> dict[str, np.ndarray]:
        if not keys:
            return {}
        with self._lock:
            found = {
                k: np.asarray(v, dtype=np.float32) for k, _, v in self._pending_vectors if k in set(keys)
            }
            rows = (
                self._connect()
                .execute("SELECT key, vector FROM embedding_cache WHERE key IN (SELECT unnest(?))", [keys])
                .fetchall()
            )
        found.update({key: np.asarray(vector, dtype=np.float32) for key, vector in rows})
        return found

    def put_vectors(self, model: str, items: list[tuple[str, np.ndarray]]) -> None:
        with self._lock:
            self._pending_vectors.extend(
                (key, model, vector.astype(np.float32).tolist()) for key, vector in items
            )
            if len(self._pending_vectors) >= self.flush_every:
                self._flush_locked()

    def _flush_locked(self) -> None:
        connection = self._connect()
        if self._pending_chat:
            connection.executemany(
                "INSERT OR REPLACE INTO chat_cache (key, model, purpose, response, prompt_tokens, completion_tokens) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                self._pending_chat,
            )
            self._pending_chat.clear()
        if self._pending_vectors:
            connection.executemany(
                "INSERT OR REPLACE INTO embedding_cache (key, model, vector) VALUES (?, ?, ?)",
                self._pending_vectors,
            )
            self._pending_vectors.clear()

    def flush(self) -> None:
        with self._lock:
            if self._pending_chat or self._pending_vectors:
                self._flush_locked()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._flush_locked()
                self._connection.close()
                self._connection = None

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
