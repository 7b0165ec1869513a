"""spaCy loads with torch blocked while MiniLM may import torch on another thread (models load side
by side): the import must wait for the block to end, not fail. In a subprocess, so torch is not
loaded yet."""

import subprocess
import sys

SCRIPT = """
import sys, threading, time
from voicebot.nlu.torchgate import torch_blocked, torch_importable
blocked = threading.Event()
def spacy_like():
    with torch_blocked():
        blocked.set()
        try:
            import torch  # noqa: F401
            print("torch imported while blocked")
        except ImportError:
            pass
        time.sleep(0.5)
t = threading.Thread(target=spacy_like); t.start(); blocked.wait()
with torch_importable():
    import torch
print("ok", torch.__name__)
t.join()
"""


def test_torch_import_waits_for_spacy_to_load_instead_of_failing():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["ok", "torch"], out.stdout
