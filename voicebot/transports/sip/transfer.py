"""Handing an answered caller to a human: blind transfer by REFER (RFC 3515), and where the
caller's side refuses it (an error to the REFER or a failed NOTIFY), a bridge: the worker
calls the agent itself and relays audio and keys between the two legs until either hangs up."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosipua import build_sdp, parse_uri

from voicebot.transports.sip.rtp import RtpLeg
from voicebot.transports.sip.sdp import PTIME_MS

log = logging.getLogger(__name__)

REFER_TIMEOUT_S = 20.0
_NAMES = {0: "PCMU", 8: "PCMA"}


class Transfer:
    """One transfer attempt; `server` supplies the UAC, the bind address and the done callbacks."""

    def __init__(self, server: Any, call: Any, leg: RtpLeg, uri: str, call_id: str) -> None:
        self.server, self.call, self.leg, self.uri, self.call_id = server, call, leg, uri, call_id
        self.result: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.outcome = "pending"  # referred | bridged | failed

    # ---- REFER ------------------------------------------------------------------------------
    def refer_answered(self, status: int) -> None:
        if status >= 300 and not self.result.done():
            self.result.set_result(status)

    def progress(self, status: int) -> None:
        if status >= 200 and not self.result.done():
            self.result.set_result(status)

    async def run(self) -> str:
        self.server.uac.send_refer(self.call.dialog, self.uri, self.call.source_addr)
        try:
            status = await asyncio.wait_for(asyncio.shield(self.result), REFER_TIMEOUT_S)
        except asyncio.TimeoutError:
            status = 408
        if 200 <= status < 300:
            log.info("%s: REFER to %s accepted and the agent answered", self.call_id, self.uri)
            self.outcome = "referred"
            return self.outcome
        log.info("%s: REFER to %s failed (%d); bridging", self.call_id, self.uri, status)
        self.outcome = "bridged" if await self._bridge() else "failed"
        return self.outcome

    # ---- bridge -----------------------------------------------------------------------------
    async def _bridge(self) -> bool:
        server = self.server
        pt = self.leg.payload_type
        agent_remote = _uri_addr(self.uri)
        leg_b = await RtpLeg.open(server.rtp_ip, ("0.0.0.0", 9), pt, 101, signal_ip=agent_remote[0])
        offer = build_sdp(server.rtp_ip, leg_b.local_port, pt, _NAMES[pt], ptime=PTIME_MS,
                          advertised_ip=server.config.advertised_ip)
        outgoing = server.uac.send_invite(server.contact_uri, self.uri, agent_remote, offer,
                                          user_agent=server.user_agent)
        try:
            await outgoing.wait_answered(timeout=REFER_TIMEOUT_S)
        except (TimeoutError, RuntimeError) as exc:
            log.warning("%s: agent %s did not answer: %s", self.call_id, self.uri, exc)
            await leg_b.close()
            return False
        remote = outgoing.sdp_answer.rtp_address if outgoing.sdp_answer else None
        if remote is None:
            outgoing.hangup(server.uac)
            await leg_b.close()
            return False
        leg_b.connect(remote)
        self.leg.stop_playing()
        self.leg.on_audio, leg_b.on_audio = leg_b.play, self.leg.play
        self.leg.on_dtmf = lambda key: leg_b.send_dtmf(key)
        server.bridges[outgoing.call_id] = (self.call_id, outgoing, leg_b)
        server.bridges[self.call_id] = (outgoing.call_id, self.call, self.leg)
        log.info("%s: bridged to %s (%s)", self.call_id, self.uri, outgoing.call_id)
        return True


def _uri_addr(uri: str) -> tuple[str, int]:
    parsed = parse_uri(uri)
    return parsed.host, int(parsed.port or 5060)
