"""The whole suite on another date and hour (`make test-at AT=…`): imported by every Python
process of the run, the test process and each `datadrip` it starts, while this folder is on
PYTHONPATH. Each sees the real time shifted by TEST_CLOCK_SHIFT_SECONDS (time-machine, ticking),
so they agree with one another; monotonic clocks and sleeps are left alone."""

import os

_shift = os.environ.get("TEST_CLOCK_SHIFT_SECONDS")
if _shift:
    import datetime as _dt
    import time as _time

    import time_machine as _time_machine

    _time_machine.travel(_dt.datetime.fromtimestamp(_time.time() + float(_shift), _dt.UTC),
                         tick=True).start()
