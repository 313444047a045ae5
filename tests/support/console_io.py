"""Reading what an interactive ``outpost`` tool prints, line by line, as a person watches it."""

from __future__ import annotations

import asyncio


async def read_until(stream: asyncio.StreamReader, *words: str, timeout: float = 20.0) -> str:
    """Lines of the tool's output up to the first that holds every one of ``words``."""
    return await read_until_each(stream, words, timeout=timeout)


async def read_until_each(
    stream: asyncio.StreamReader, *lines: tuple[str, ...], timeout: float = 20.0
) -> str:
    """Lines of the output until, for each tuple of words, some line has held them all (in any order)."""
    seen: list[str] = []
    waiting = list(lines)
    try:
        async with asyncio.timeout(timeout):
            while line := (await stream.readline()).decode():
                seen.append(line)
                waiting = [words for words in waiting if not all(word in line for word in words)]
                if not waiting:
                    return "".join(seen)
    except TimeoutError:
        raise AssertionError(f"no lines with {waiting} within {timeout:g} s:\n{''.join(seen)}") from None
    raise AssertionError(f"output ended without {waiting}:\n{''.join(seen)}")


class Typist:
    """A tool's process typed at and read from as a person would; keeps every line it printed."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.process, self._stdin, self._stdout = process, process.stdin, process.stdout
        self.seen: list[str] = []

    async def type(self, line: str) -> None:
        self._stdin.write(f"{line}\n".encode())
        await self._stdin.drain()

    async def until(self, *words: str, timeout: float = 20.0) -> str:
        return await self.until_each(words, timeout=timeout)

    async def until_each(self, *lines: tuple[str, ...], timeout: float = 20.0) -> str:
        text = await read_until_each(self._stdout, *lines, timeout=timeout)
        self.seen.extend(text.splitlines())
        return text
