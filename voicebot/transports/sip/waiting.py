"""A caller the flow put in a queue (no agent free, and no queue URI to hand them to) waits on
the line: every `announce_s` (30-60 s) they hear their place and the estimated wait and that a
key books a callback. The place is the store's (`store.position`), so it is the same on every
worker and survives a restart. Every 2 s the worker asks the flow's router, with the agents'
live states from the store, whether an agent with a SIP URI is free, claims them atomically and
transfers; a caller who hangs up or books a callback leaves the
store's queue (`store.leave_queue`). Outcomes are written to the call record through the store.
While the database is down the caller holds on: no agent is claimed, the announcement says only
the callback key (the place is the store's), and the writes are spooled.

A worker shutting down hangs its waiting callers up and marks their entries `dropped`, as the
store does for the callers of a worker that died: calling again soon, they get their place back."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from voicebot.flow.outage import warn_store_failed
from voicebot.flow.routing import Caller
from voicebot.flow.speech import say_wait
from voicebot.store.protocols import StoreUnavailable

log = logging.getLogger(__name__)

CALLBACK_KEY = "1"
POLL_S = 2.0
CALLBACK_HINT = "To be called back instead, press one."


class QueueWait:
    def __init__(self, server: Any, call: Any, transfer: Any, announce_s: float) -> None:
        self.server, self.call, self.transfer, self.announce_s = server, call, transfer, announce_s
        self.engine = call.port.session.engine
        self._key = asyncio.Event()
        self.gone = asyncio.Event()
        self.shutdown = False  # gone because this worker stops: the caller did not choose to leave
        self.announced = 0
        self.store_down = False  # a store operation failed during this wait (warned once)

    async def run(self) -> tuple[str, str | None]:
        """('agent', sip uri) | ('callback', None) | ('abandoned', None)"""
        loop = asyncio.get_running_loop()
        leg = self.call.leg
        leg.on_audio = None  # nobody listens while the caller waits
        leg.on_dtmf = lambda key: self._key.set() if key == CALLBACK_KEY else None
        started = loop.time()
        next_announce = started + self.announce_s
        while True:
            if self.gone.is_set():
                await loop.run_in_executor(None, self._close, "abandoned", None)
                return ("dropped" if self.shutdown else "abandoned"), None
            if self._key.is_set():
                await loop.run_in_executor(None, self._callback)
                return "callback", None
            agent = await loop.run_in_executor(None, self._free_agent)
            if agent is not None:
                return "agent", agent
            if loop.time() >= next_announce:
                await self._say(await loop.run_in_executor(None, self._announcement, loop.time() - started))
                next_announce += self.announce_s
            try:
                await asyncio.wait_for(self._wake(), POLL_S)
            except asyncio.TimeoutError:
                pass

    async def _wake(self) -> None:
        tasks = [asyncio.ensure_future(self._key.wait()), asyncio.ensure_future(self.gone.wait())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()

    async def _say(self, text: str) -> None:
        audio = await asyncio.get_running_loop().run_in_executor(None, self.server.stack.prompts.render, text)
        self.call.leg.play(audio)
        self.announced += 1

    def _announcement(self, waited: float) -> str:
        """Their place in line, the wait left and the callback key; the key alone while the store
        cannot say the place (the database is down: no place is made up)."""
        try:
            position = self.engine.store.position(self.engine.record.call_id)
        except StoreUnavailable as exc:
            self._store_down(exc)
            return CALLBACK_HINT
        wait = say_wait(max(0.0, (self.transfer.estimated_wait or 0) - waited))
        text = self.engine.spec.messages.queue_position.format(position=position or 1, wait=wait)
        return f"{text} {CALLBACK_HINT}"

    def _free_agent(self) -> str | None:
        """A free agent's SIP URI, claimed; None while nobody is free, or while the database is
        down (the caller holds on, and the next poll asks again)."""
        try:
            return self._claim_free_agent()
        except StoreUnavailable as exc:
            self._store_down(exc)
            return None

    def _store_down(self, exc: StoreUnavailable) -> None:
        if not self.store_down:  # once per wait, not at every poll
            warn_store_failed(self.call.call_id, exc, "no agent is claimed while the caller waits in a queue; they hold on", log)
        self.store_down = True

    def _claim_free_agent(self) -> str | None:
        """Claim a free agent who has a SIP URI (atomically, in the store: two workers never get
        one agent) and leave the queue as taken."""
        spec, store, rec = self.engine.spec, self.engine.store, self.engine.record
        now = datetime.now(timezone.utc)
        decision = self.engine.flow.router.route(self.transfer.queue, Caller(rec.priority), now,
                                                 live=store.agent_states())
        agent = next((a for a in spec.agents if a.name == decision.agent), None) if decision.kind == "agent" else None
        if agent is None or not agent.sip:
            return None
        until = now + timedelta(seconds=spec.queues[decision.queue].handle_seconds)
        if not store.claim_agent(agent.name, now, until, rec.call_id):
            return None  # another worker's caller got them first
        store.leave_queue(rec.call_id, status="taken")
        self._close(None, agent.name)
        log.info("%s: agent %s free after waiting, transferring", self.call.call_id, agent.name)
        return agent.sip

    def _callback(self) -> None:
        rec = self.engine.record
        self.engine.store.add_task({"kind": "callback", "caller_id": rec.caller_id, "call_id": rec.call_id,
                                    "queue": self.transfer.queue, "text": "", "recording": None,
                                    "created_at": datetime.now(timezone.utc).isoformat()})
        self.engine.store.leave_queue(rec.call_id, status="callback")
        self._close(None, None, disposition="callback")
        audio = self.server.stack.prompts.render(self.engine.spec.messages.callback_booked)
        self.server.loop.call_soon_threadsafe(self.call.leg.play, audio)

    def _close(self, outcome: str | None, agent: str | None, disposition: str | None = None) -> None:
        rec = self.engine.record
        if outcome:
            self.engine.store.leave_queue(rec.call_id, status="dropped" if self.shutdown else "abandoned")
            rec.outcome, rec.disposition = outcome, "worker_lost" if self.shutdown else "abandoned_in_queue"
        if agent:
            rec.agent, rec.disposition = agent, "agent"
        if disposition:
            rec.disposition = disposition
        rec.ended_at = datetime.now(timezone.utc)
        self.engine.store.finish_call(rec.to_dict())
