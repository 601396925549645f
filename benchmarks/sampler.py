"""Peak memory and thread count of a server's whole process tree, sampled during a load run."""

import contextlib
import threading

import psutil

from tutorial.probe import ListedEvery

INTERVAL = 0.05


def tree_usage(pids):
    """(RSS in bytes, threads, {pid: CPU seconds so far}) over the processes `pids` that exist."""
    rss = threads = 0
    cpu = {}
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            process = psutil.Process(pid)
            with process.oneshot():
                rss += process.memory_info().rss
                threads += process.num_threads()
                times = process.cpu_times()
                cpu[(pid, process.create_time())] = times.user + times.system
    return rss, threads, cpu


class Sampling:
    """A context manager that calls `self._sample()` on entry, every `interval` s, and on exit."""

    name = "sampler"

    def __init__(self, interval=INTERVAL):
        self._interval = interval
        self._stop = threading.Event()

    def _sample(self):
        raise NotImplementedError

    def _run(self):
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


class PeakSampler(Sampling):
    """`with PeakSampler(site.pids) as peak: ...` then `peak.rss`, `peak.threads`, `peak.cpu`.

    A background thread asks `pids()` for the tree at the first and last sample and every
    tutorial.probe.PIDS_EVERY s between (gunicorn replaces workers, uvicorn starts them late;
    listing the tree scans every process on the machine) and keeps the largest sums seen.
    `cpu` is the CPU seconds the tree used meanwhile: unlike req/s it hardly changes when other
    programs compete for the cores.
    """

    name = "peak-sampler"

    def __init__(self, pids, interval=INTERVAL):
        super().__init__(interval)
        self._pids = ListedEvery(pids)
        self.rss = self.threads = self.samples = 0
        self._first_cpu, self._last_cpu = None, {}

    @property
    def cpu(self):
        """CPU seconds (user + system) the process tree used between enter and exit."""
        first = self._first_cpu or {}
        return sum(t - first.get(key, 0.0) for key, t in self._last_cpu.items())

    def _sample(self):
        rss, threads, cpu = tree_usage(self._pids(fresh=self._stop.is_set()))  # fresh at exit
        self.rss, self.threads = max(self.rss, rss), max(self.threads, threads)
        if self._first_cpu is None:
            self._first_cpu = cpu
        self._last_cpu.update(cpu)  # a process that exits keeps its last reading
        self.samples += 1
