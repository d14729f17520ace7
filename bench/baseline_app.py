"""The ceiling: a bare FastAPI app with one route returning a constant JSON object.

Served by bench/servers.py with exactly the uvicorn flags the service gets, so the ratio
service / baseline measures what the service adds (auth, database, limiter, logging), not the
framework or the server.
"""

from fastapi import FastAPI

app = FastAPI()

PAYLOAD = {"status": "ok"}


@app.get("/")
async def root() -> dict[str, str]:
    return PAYLOAD
