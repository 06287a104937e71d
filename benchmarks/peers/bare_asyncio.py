"""Ceiling reference: the fastest a single Python process can push chat requests through one event loop.

Opens --concurrency keep-alive connections with raw asyncio streams, writes a pre-rendered HTTP/1.1 request per
prompt and reads the response by Content-Length (or chunked encoding). No HTTP library, no JSON model layer: what
any framework does on top of this is its overhead. It still parses each response body to count real rows.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

from bench_common import emit_result, is_ok_text, parse_harness_args, read_prompts


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status code and body of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if b":" in line:
            name, value = line.split(b":", 1)
            headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        return status, await reader.readexactly(int(headers[b"content-length"]))
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    raise ValueError("response has neither Content-Length nor chunked encoding")


async def run(prompts: list[str], base_url: str, concurrency: int, max_tokens: int, model: str) -> int:
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    path = url.path.rstrip("/") + "/chat/completions"
    requests = []
    for prompt in prompts:
        body = json.dumps(
            {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}
        ).encode()
        requests.append(
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
    next_index = 0
    ok = 0

    async def worker() -> None:
        nonlocal next_index, ok
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < len(requests):
                index = next_index
                next_index += 1
                writer.write(requests[index])
                status, body = await read_response(reader)
                if status == 200:
                    choices = json.loads(body).get("choices") or [{}]
                    if is_ok_text((choices[0].get("message") or {}).get("content")):
                        ok += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(requests)))))
    return ok


def main() -> None:
    args = parse_harness_args(__doc__.splitlines()[0])
    prompts = read_prompts(args.prompts, args.limit)
    started = time.perf_counter()
    ok = asyncio.run(run(prompts, args.base_url, args.concurrency, args.max_tokens, args.model))
    emit_result("bare_asyncio", len(prompts), time.perf_counter() - started, ok)


if __name__ == "__main__":
    main()
