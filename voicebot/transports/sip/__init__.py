"""SIP/RTP transport: `voicebot serve --sip HOST:PORT` answers phone calls.

Signalling and RTP come from maintained libraries (aiosipua for SIP transactions/dialogs/REFER,
aiortp for RTP with its jitter buffer, loss concealment, RFC 4733 events and paced sending);
this package adds what a contact-centre worker needs on top: strict checks on what peers send,
a per-call thread that runs the Session so the 20 ms RTP clock never waits on a model,
admission control, caller ID and transfer to agents."""

from voicebot.transports.sip.server import ServeConfig, SipServer

__all__ = ["ServeConfig", "SipServer"]
