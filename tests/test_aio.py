"""asyncio integration (execo.aio): wait_async() on processes and
actions, lines_async() over output, with no thread per wait."""

import asyncio
import threading

import pytest

from execo import Local, ParallelActions, Process, Remote
from execo.process import STDERR


def run(coro):
    return asyncio.run(coro)


def test_a_thousand_concurrent_waits_without_a_thread_each():
    async def main():
        ps = [Process("sleep 0.%d" % (i % 5)).start() for i in range(1000)]
        threads = []

        async def sample():
            while not all(p.ended for p in ps):
                threads.append(threading.active_count())
                await asyncio.sleep(0.05)

        sampler = asyncio.ensure_future(sample())
        done = await asyncio.gather(*(p.wait_async() for p in ps))
        await sampler
        return ps, done, threads

    ps, done, threads = run(main())
    assert done == ps
    assert all(p.ended and p.ok for p in ps)
    # the reactor, the handler threads and this one: nothing per wait
    assert max(threads) < 20, max(threads)


def test_wait_async_timeout_returns_the_running_process():
    async def main():
        p = Process("sleep 5").start()
        r = await p.wait_async(0.2)
        assert r is p and not p.ended
        p.kill()
        await p.wait_async()
        return p

    p = run(main())
    assert p.ended and p.killed


def test_wait_async_of_an_ended_process_returns_at_once():
    p = Process("true").run()

    async def main():
        return await asyncio.wait_for(p.wait_async(), 5)

    assert run(main()) is p


def test_wait_async_before_start_raises():
    async def main():
        await Process("true").wait_async()

    with pytest.raises(ValueError):
        run(main())
    with pytest.raises(ValueError):
        run(Local("true").wait_async())


def test_cancelled_wait_leaves_no_callback_behind():
    async def main():
        p = Process("sleep 0.5").start()
        task = asyncio.ensure_future(p.wait_async())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not p.__dict__.get("_end_callbacks")
        return await p.wait_async()

    assert run(main()).ok


def test_loop_closed_before_the_end_is_harmless():
    p = Process("sleep 0.3").start()

    async def main():
        asyncio.ensure_future(p.wait_async())
        await asyncio.sleep(0.01)

    run(main())  # the loop is closed with the wait pending
    p.wait(10)
    assert p.ended and p.ok
    assert Process("echo still fine").run().stdout == "still fine\n"


def test_lines_async_as_they_come_and_from_the_beginning():
    async def main():
        p = Process("for i in 1 2 3; do echo line$i; sleep 0.05; done; printf tail", shell=True).start()
        got = [line async for line in p.lines_async()]
        again = [line async for line in p.lines_async()]  # after the end: replayed
        await p.wait_async()
        return p, got, again

    p, got, again = run(main())
    assert got == ["line1\n", "line2\n", "line3\n", "tail"]
    assert again == got and p.ok


def test_lines_async_start_from_current_and_stderr():
    async def main():
        p = Process("echo early >&2; read x; echo late >&2; echo out", shell=True).start()
        while "early" not in p.stderr:
            await asyncio.sleep(0.01)
        lines = p.lines_async(stream=STDERR, start_from_current=True)
        p.write("go\n")
        got = [line async for line in lines]
        await p.wait_async()
        return got

    assert run(main()) == ["late\n"]


def test_lines_async_many_lines_and_non_ascii():
    n = 100000

    async def main():
        p = Process(("sh", "-c", "i=0; while [ $i -lt %d ]; do echo \"é$i\"; i=$((i+1)); done" % n)).start()
        count = 0
        async for line in p.lines_async():
            assert line == "é%d\n" % count
            count += 1
        return count

    assert run(main()) == n


def test_action_wait_async():
    async def main():
        a = ParallelActions([Local("echo %d" % i) for i in range(50)]).start()
        assert await a.wait_async() is a
        slow = Local("sleep 5").start()
        await slow.wait_async(0.1)
        assert not slow.ended
        slow.kill()
        await slow.wait_async()
        return a, slow

    a, slow = run(main())
    assert a.ended and a.ok and slow.ended


def test_remote_wait_async(sshd):
    async def main():
        r = Remote("echo {{{host}}}", sshd.hosts[:8], connection_params=sshd.connection_params).start()
        await r.wait_async(60)
        return r

    r = run(main())
    assert r.ended and r.ok
    assert [p.stdout.strip() for p in r.processes] == [h.address for h in sshd.hosts[:8]]
