"""`voicebot bench`: every benchmark in one run, each speed figure beside a baseline measured in
the same run (voicebot/bench/runner.py); results and the machine go to bench/."""
