"""SIP/RTP transport: `voicebot serve --sip HOST:PORT` answers phone calls.

Signalling and RTP come from maintained libraries (aiosipua for SIP transactions/dialogs/REFER,
aiortp for RTP ports, RTCP, RFC 4733 events, loss concealment and its paced sender); this package
adds what a contact-centre worker needs on top: strict checks on what peers send, caller audio in
order without a fixed prefetch (reorder.py), a 20 ms clock per call (its own thread) that drives
the real-time Session full duplex and sends the bot's frames itself (sender.py; the caller can
talk over a prompt; nothing in a tick waits on a model), admission control, caller ID and
transfer to agents."""

from voicebot.transports.sip.server import ServeConfig, SipServer

__all__ = ["ServeConfig", "SipServer"]
