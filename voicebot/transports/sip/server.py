"""The SIP worker: one UDP socket, many calls, one shared Stack.

INVITE → strict SDP offer/answer → an RTP leg + a Session driven by a 20 ms clock on the call's
own thread (call.py), full duplex;
BYE/CANCEL end it; OPTIONS answers 200 (503 when saturated, so a proxy's probe takes the
worker out of rotation); INFO carries DTMF when RTP events do not; the flow's Transfer goes to
the agent's SIP URI by REFER or a bridge (transfer.py)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiortp.port_allocator import PortAllocator
from aiosipua import SipResponse, SipUAC, SipUAS

from voicebot.pipeline import Session
from voicebot.transports.sip.adapter import SessionPort
from voicebot.transports.sip.admission import Admission, Limits, shared_stack, warm
from voicebot.transports.sip.call import Ended, SipCall
from voicebot.transports.sip.caller_id import caller_id
from voicebot.transports.sip.dtmf import info_digit
from voicebot.transports.sip.messages import StrictUdpTransport
from voicebot.transports.sip.rtp import RtpLeg
from voicebot.transports.sip.sdp import SdpRejected, answer, parse_offer
from voicebot.transports.sip.transfer import Transfer
from voicebot.transports.sip.waiting import QueueWait
from voicebot.web.metrics import TurnTimer  # imported with the worker, not on the first call's event loop

log = logging.getLogger(__name__)
USER_AGENT = "voicebot"


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 5070
    advertised_ip: str | None = None  # the address peers reach us at, when not `host` (NAT)
    rtp_ports: tuple[int, int] = (20000, 40000)
    limits: Limits = field(default_factory=Limits)
    announce_s: float = 45.0  # a queued caller hears their place this often


class _Uas(SipUAS):
    """aiosipua's UAS with strict SDP checks on new INVITEs and REFER responses routed to us."""

    server: SipServer

    def _on_message(self, msg: Any, addr: tuple[str, int]) -> None:
        cseq = getattr(msg, "cseq", None)
        if isinstance(msg, SipResponse) and cseq is not None and cseq.method.upper() == "REFER":
            self.server.refer_answered(msg.call_id or "", msg.status_code)
            return
        super()._on_message(msg, addr)

    def _handle_invite(self, request: Any, addr: tuple[str, int]) -> None:
        existing = self._calls.get(request.call_id or "")
        if existing is not None and _same_request(existing.invite, request):
            # A retransmission (the sender had no 100 Trying yet: a loaded worker reads its socket
            # late). aiosipua would answer it as a second call; its 100/200 go out already.
            log.debug("%s: INVITE retransmission ignored", request.call_id)
            return
        if existing is None:
            try:
                if request.content_type != "application/sdp" or not request.body:
                    raise SdpRejected("an INVITE without an SDP offer (late offer) is not supported")
                parse_offer(request.text)
            except SdpRejected as exc:
                log.warning("%s: 488 %s", request.call_id, exc)
                self._send_error(request, 488, "Not Acceptable Here", extra_headers={"Warning": f'399 voicebot "{exc}"'})
                return
        super()._handle_invite(request, addr)


def _same_request(first: Any, other: Any) -> bool:
    """The same INVITE again: same top Via (branch) and CSeq (a re-INVITE has a higher CSeq)."""
    return (first.get_header("via") == other.get_header("via")
            and first.get_header("cseq") == other.get_header("cseq"))


class SipServer:
    def __init__(self, config: ServeConfig, stack: Any, flow: Any, store: Any) -> None:
        self.config, self.flow, self.store = config, flow, store
        self.stack, recognizer = shared_stack(stack)
        self.admission = Admission(config.limits, recognizer, self.stack.prompts)
        self.calls: dict[str, SipCall] = {}
        self._answering: set[str] = set()
        self.transfers: dict[str, Transfer] = {}
        self.waits: dict[str, QueueWait] = {}
        self.bridges: dict[str, tuple[str, Any, RtpLeg]] = {}
        self.ended: list[dict[str, Any]] = []  # what happened to each call, for logs and tests
        self.user_agent = USER_AGENT
        self.rtp_ip = config.host
        self._ports = PortAllocator(config.rtp_ports)
        self._closed = asyncio.Event()
        self._stopping = False
        self._batches_seen = 0

    @property
    def active(self) -> int:
        return len(self.calls) + len(self._answering)

    @property
    def contact_uri(self) -> str:
        return f"sip:voicebot@{self.config.advertised_ip or self.config.host}:{self.transport.local_addr[1]}"

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.loop.run_in_executor(None, warm, self.stack)
        self.transport = StrictUdpTransport(local_addr=(self.config.host, self.config.port))
        self.uac = SipUAC(self.transport, advertised_addr=self._advertised())
        self.uas = _Uas(self.transport, user_agent=USER_AGENT, uac=self.uac, advertised_addr=self._advertised())
        self.uas.server = self
        self.uas.on_invite = self._invite
        self.uas.on_bye = self._bye
        self.uas.on_reinvite = self._reinvite
        self.uas.on_options = self._options
        self.uas.on_transfer_progress = self._transfer_progress
        self.uas._handlers["INFO"] = self._info
        await self.uas.start()
        log.info("SIP worker on %s:%d (UDP)", *self.transport.local_addr)

    def _advertised(self) -> tuple[str, int] | None:
        return (self.config.advertised_ip, self.config.port) if self.config.advertised_ip else None

    async def serve_forever(self) -> None:
        await self._closed.wait()

    async def stop(self) -> None:
        """Hang up every call (its record closes as abandoned; a queued caller's entry is
        dropped, so they get their place back by calling again) and close the socket."""
        self._stopping = True
        for wait in list(self.waits.values()):
            invite = self.uas.get_call(wait.call.call_id)
            if invite is not None:
                invite.hangup()
            wait.shutdown = True  # their place is kept (dropped, not abandoned)
            wait.gone.set()
        for call_id, call in list(self.calls.items()):
            invite = self.uas.get_call(call_id)
            if invite is not None:
                invite.hangup()
            call.remote_hangup("worker shutting down")
        for call in list(self.calls.values()):
            await asyncio.get_running_loop().run_in_executor(None, call.finished.wait, 10)
        for _ in range(50):  # queued callers' records close as they leave
            if not self.waits:
                break
            await asyncio.sleep(0.1)
        await self.uas.stop()
        self._closed.set()

    # ---- INVITE -----------------------------------------------------------------------------
    def _invite(self, invite: Any) -> None:
        refusal = self.admission.refuse(self.active)
        if refusal:
            log.warning("%s: 503, %s", invite.call_id, refusal)
            invite._send_response(503, "Service Unavailable",
                                  extra_headers={"Retry-After": str(self.config.limits.retry_after_s)})
            invite.dialog.terminate()
            self.uas._calls.pop(invite.call_id, None)
            return
        self._answering.add(invite.call_id)  # counted from now on
        asyncio.ensure_future(self._answer(invite))

    async def _answer(self, invite: Any) -> None:
        call_id = invite.call_id
        try:
            return await self._answer_call(invite)
        finally:
            self._answering.discard(call_id)

    async def _answer_call(self, invite: Any) -> None:
        call_id = invite.call_id
        try:
            offer = invite.sdp_offer
            first = answer(offer, self.rtp_ip, 9, self.config.advertised_ip)  # validates before a port is taken
            leg = await RtpLeg.open(self.rtp_ip, first.remote, first.payload_type, first.dtmf_payload_type,
                                    signal_ip=invite.source_addr[0], ports=self._ports)
            final = answer(offer, self.rtp_ip, leg.local_port, self.config.advertised_ip)
        except SdpRejected as exc:
            log.warning("%s: 488 %s", call_id, exc)
            invite.reject(488, "Not Acceptable Here")
            self.uas._calls.pop(call_id, None)
            return
        if invite.dialog.state.value == "terminated":  # CANCELled while the port opened
            await leg.close()
            return
        port = await self.loop.run_in_executor(None, self._prepare, call_id, invite.dialog.remote_tag,
                                               caller_id(invite.invite))
        if invite.dialog.state.value == "terminated":  # CANCELled meanwhile: never answered
            record = port.session.engine.record
            record.outcome, record.ended_at = "abandoned", datetime.now(timezone.utc)
            await self.loop.run_in_executor(None, self.store.finish_call, record.to_dict())
            await leg.close()
            return
        call = SipCall(call_id, port, leg, self.loop, self._ended, self.agent_uri)
        self.calls[call_id] = call
        invite.accept(final.sdp)
        codec = {0: "PCMU", 8: "PCMA"}[final.payload_type]
        log.info("%s: answered (%s, RTP %d ↔ %s:%d, events pt %s)", call_id, codec, leg.local_port,
                 *final.remote, final.dtmf_payload_type or "none")
        call.start()

    def _prepare(self, call_id: str, from_tag: str, caller: str | None) -> SessionPort:
        """The call's Session, and its record in the store before the caller is answered: a
        worker killed right after its 200 OK still leaves a record for the survivor to close.
        Off the event loop (the store, the flow engine)."""
        port = SessionPort(self._session(call_id, from_tag, caller))
        self.store.start_call(port.session.engine.record.header())
        return port

    def _session(self, call_id: str, from_tag: str, caller: str | None) -> Session:
        from voicebot.flow import CallEngine

        record_id = record_id_for(call_id, from_tag)
        engine = CallEngine(self.flow, self.store, caller_id=caller, now=datetime.now(timezone.utc),
                            call_id=record_id)
        log.info("%s: caller %s, record %s", call_id, _masked(caller), record_id)
        # turn latency on this worker's /metrics; the call's audio is not kept (nothing here saves it)
        return Session(engine, self.stack, listener=TurnTimer(), keep_audio=False)

    # ---- in-dialog requests -----------------------------------------------------------------
    def _bye(self, invite: Any, _request: Any) -> None:
        call_id = invite.call_id
        if call_id in self.bridges:
            return self._end_bridge(call_id)
        if call_id in self.waits:
            self.waits[call_id].gone.set()
        call = self.calls.get(call_id)
        if call is not None:
            call.remote_hangup()

    def _reinvite(self, invite: Any) -> None:
        """Session refresh, hold/resume or a moved peer: same codec and port, maybe a new address."""
        call = self.calls.get(invite.call_id)
        if call is None or invite.sdp_offer is None:
            return invite.accept(invite.sdp_answer)
        try:
            final = answer(invite.sdp_offer, self.rtp_ip, call.leg.local_port, self.config.advertised_ip)
            if final.payload_type != call.leg.payload_type:
                raise SdpRejected("changing codec mid-call is not supported")
        except SdpRejected as exc:
            log.warning("%s: re-INVITE refused: %s", invite.call_id, exc)
            return invite._send_response(488, "Not Acceptable Here")
        call.leg.connect(final.remote)
        invite.accept(final.sdp)

    def _info(self, request: Any, addr: tuple[str, int]) -> None:
        invite = self.uas.get_call(request.call_id or "")
        if invite is None:
            return self.uas._send_error(request, 481, "Call/Transaction Does Not Exist")
        if not self.uas._validate_in_dialog(invite.dialog, request):
            return
        key = info_digit(request.content_type, request.text if request.body else "")
        if request.body and key is None:
            return self.uas._send_error(request, 415, "Unsupported Media Type",
                                        extra_headers={"Accept": "application/dtmf-relay, application/dtmf"})
        self.transport.send_reply(invite.dialog.create_response(request, 200, "OK"))
        call = self.calls.get(request.call_id or "")
        if key and call is not None:
            call.key(key)

    def _options(self, request: Any, _addr: tuple[str, int]) -> None:
        refusal = self.admission.refuse(self.active)
        headers = {"Allow": "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY", "Accept": "application/sdp"}
        if refusal:
            headers["Retry-After"] = str(self.config.limits.retry_after_s)
            return self.uas._send_error(request, 503, "Service Unavailable", extra_headers=headers)
        self.uas._send_error(request, 200, "OK", extra_headers=headers)

    # ---- the end of a call ------------------------------------------------------------------
    def _ended(self, call: SipCall, ended: Ended | None) -> None:
        call.leg.loop_clock()  # off the media thread: the loop sends what the leg still plays
        invite = self.uas.get_call(call.call_id)
        self.calls.pop(call.call_id, None)
        record = call.port.session.engine.record
        summary = {"call_id": call.call_id, "record": record.call_id, "outcome": record.outcome,
                   "agent": record.agent, "transfer": None, "queue_wait": None, "rtp_dropped": call.leg.dropped}
        self.ended.append(summary)
        if ended is not None and ended.transfer_to and invite is not None:
            return self._start_transfer(invite, call, ended.transfer_to, summary)
        queued = ended.queued if ended is not None else call.queued
        if queued is not None:
            wait = QueueWait(self, call, queued, self.config.announce_s)
            if ended is None or invite is None:  # hung up (or by our stop) before the wait began
                wait.shutdown = self._stopping
                wait.gone.set()
            self.waits[call.call_id] = wait
            asyncio.ensure_future(self._wait(wait, invite, summary))
            return
        if ended is not None and invite is not None:
            invite.hangup()
            self.uas._calls.pop(call.call_id, None)
        log.info("%s: ended, record %s outcome %s (RTP: %s, %d stray packets dropped)", call.call_id,
                 record.call_id, record.outcome, call.leg.stats_line(), call.leg.dropped)
        self._log_batches()
        asyncio.ensure_future(call.leg.close())

    def _log_batches(self) -> None:
        """The sizes of the decode batches run since the last call ended (a shared decoder that
        batches: does it, under this load?), for the benchmark and whoever tunes it."""
        batches = getattr(self.stack.recognizer, "batches", None)
        if not isinstance(batches, list) or len(batches) <= self._batches_seen:
            return
        sizes = Counter(batches[self._batches_seen:])
        self._batches_seen = len(batches)
        log.info("decode batches since the last call ended: %s", json.dumps(dict(sorted(sizes.items()))))

    def _start_transfer(self, invite: Any, call: SipCall, uri: str, summary: dict[str, Any]) -> None:
        transfer = Transfer(self, invite, call.leg, uri, call.call_id)
        self.transfers[call.call_id] = transfer
        asyncio.ensure_future(self._transfer(transfer, summary))

    async def _wait(self, wait: QueueWait, invite: Any, summary: dict[str, Any]) -> None:
        try:
            outcome, uri = await wait.run()
            record = wait.engine.record
            summary.update(queue_wait=outcome, outcome=record.outcome, agent=record.agent)
            log.info("%s: left the queue: %s", wait.call.call_id, outcome)
            if outcome == "agent" and uri:
                return self._start_transfer(invite, wait.call, uri, summary)
            if outcome == "callback":
                await asyncio.sleep(wait.call.leg.queued_ms / 1000 + 0.5)  # "we'll call you back" plays out
                invite.hangup()
                self.uas._calls.pop(wait.call.call_id, None)
            await wait.call.leg.close()
        finally:
            self.waits.pop(wait.call.call_id, None)

    async def _transfer(self, transfer: Transfer, summary: dict[str, Any]) -> None:
        outcome = await transfer.run()
        summary["transfer"] = outcome
        self.transfers.pop(transfer.call_id, None)
        if outcome == "bridged":
            return
        invite = self.uas.get_call(transfer.call_id)
        if invite is not None:
            invite.hangup()
            self.uas._calls.pop(transfer.call_id, None)
        await transfer.leg.close()

    def refer_answered(self, call_id: str, status: int) -> None:
        if call_id in self.transfers:
            self.transfers[call_id].refer_answered(status)

    def _transfer_progress(self, call_id: str, status: int, _reason: str) -> None:
        if call_id in self.transfers:
            self.transfers[call_id].progress(status)

    def _end_bridge(self, call_id: str) -> None:
        other_id, _, leg = self.bridges.pop(call_id)
        other = self.bridges.pop(other_id, None)
        asyncio.ensure_future(leg.close())
        if other is None:
            return
        _, dialog_owner, other_leg = other
        if hasattr(dialog_owner, "dialog") and dialog_owner.__class__.__name__ == "OutgoingCall":
            dialog_owner.hangup(self.uac)
        else:
            dialog_owner.hangup()
            self.uas._calls.pop(other_id, None)
        asyncio.ensure_future(other_leg.close())
        log.info("%s: bridge ended", call_id)

    def agent_uri(self, transfer: Any) -> str | None:
        """The SIP URI of whoever the flow's Transfer names (an agent, else its queue)."""
        spec = self.flow.spec
        if transfer.agent:
            agent = next((a for a in spec.agents if a.name == transfer.agent), None)
            if agent is not None and agent.sip:
                return agent.sip
        if transfer.queue and transfer.queue in spec.queues and spec.queues[transfer.queue].sip:
            return spec.queues[transfer.queue].sip
        target = str(transfer.target or "")
        return target if target.startswith(("sip:", "sips:")) else None


def record_id_for(call_id: str, from_tag: str) -> str:
    """The call record's id: the SIP Call-ID (readable, cut to fit) and a hash of the dialog's
    identity. The same INVITE retried on another worker by the proxy (the first one died before
    answering) lands on the same record instead of leaving a second one."""
    digest = hashlib.sha1(f"{call_id}\0{from_tag}".encode()).hexdigest()[:10]
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', call_id)[:40]}-{digest}"


def _masked(number: str | None) -> str:
    return f"…{number[-4:]}" if number and len(number) > 4 else (number or "unknown")
