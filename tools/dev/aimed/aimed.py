"""
Aimed random traces for the oracle (docs/oracle.md, session 29): each generator here draws
sequences over one part of the model. Usage, in an empty directory: python3 X.py SEED COUNT [LONG],
then `iorewind oracle .`: every trace agrees with the kernel, or the first divergence is a model bug
to shrink by hand. LONG (default 1) multiplies the number of steps a trace draws: five times as many
found #97 and #98, which need a state the usual 10-30 steps rarely build. Python 3, standard library only; the traces are plain .iort.jsonl without
recorded answers.

What every generator shares: the trace header, the event builders, and the loop that writes the
traces. A generator is one function from a seeded random.Random to the trace's events; trace t of
seed s draws from random.Random(s * 100000 + t), so a trace comes out the same whatever COUNT is.
"""
import json, random, sys

HEADER = '{"format":"iorewind-trace","version":1,"event_schema":1,"kernel":"6.12","meta":{}}'

def long_factor():
    """LONG, the generators' third argument (read when they draw, not on import: exhaustive.py takes other arguments)."""
    return int(sys.argv[3]) if len(sys.argv) > 3 else 1

def steps(r, lo, hi):
    """The steps of a trace: r.randint(lo, hi) of them, times LONG (LONG 1 draws as the generators always did)."""
    k = long_factor()
    return range(r.randint(lo * k, hi * k))

def u(x): return {"$u64":hex(x)}
def io(name, pid=1, **a): return {"op":name,"pid":pid,"fd":0,"args":a}
def ev(op, pid=1, **a): return {"op":op,"pid":pid,"args":a}

class Fds:
    """The trace's descriptor numbers in use, as the kernel hands them out: the lowest free one."""
    def __init__(self, *taken): self.used = set(taken)
    def new(self):
        n = 0
        while n in self.used: n += 1
        self.used.add(n); return n
    def free(self, n): self.used.discard(n)

def away_and_back(pid, va, length, to):
    """mremap(MAYMOVE | FIXED) of [va, va + length) to `to` and back: a probe of whether the range is
    one VMA (EFAULT unless it is), which leaves it where it was (and, the kernel's own, in one piece)."""
    return [ev('mremap', pid=pid, va=u(va), old_length=u(length), new_length=u(length), flags=3, new_va=u(to)),
            ev('mremap', pid=pid, va=u(to), old_length=u(length), new_length=u(length), flags=3, new_va=u(va))]

def adjacent_mappings(r, base, kinds, offsets):
    """A regular file under /tmp (fd 0) and a memfd (fd 1), each 256 KiB, then three to five adjacent
    mappings of 4 pages from `base`, of kinds drawn from `kinds` (file_shared, file_private, memfd,
    private_anon) at offsets drawn from `offsets(k)` for the k-th. Returns the events and how many."""
    mine = f'/tmp/aimed-{r.getrandbits(48):012x}'
    evs = [ev('open', path=mine, flags=0o302), ev('ftruncate', fd=0, length=u(0x40000)),
           ev('memfd_create', name='m', flags=0), ev('ftruncate', fd=1, length=u(0x40000))]
    n = r.randint(3, 5)
    for k in range(n):
        kind = r.choice(kinds)
        a = dict(va=u(base + k * 4 * 0x1000), length=u(4 * 0x1000), kind=kind, prot=3)
        if kind != 'private_anon':
            a['fd'] = 1 if kind == 'memfd' else 0
            a['offset'] = u(r.choice(offsets(k)))
        evs.append(ev('mmap', **a))
    return evs, n

# vma_locks.py's and vma_pins.py's layout: adjacent_mappings of 4 pages at M, free places at N and D
VMA_M = 0x7f0000000000; VMA_N = 0x7f0010000000; VMA_D = 0x7f0020000000

def vma_step(r, pids, alive, n, lengths=(0x1000, 0x2000, 0x4000, 0x6000)):
    """The draws that open a step of the vma_*.py generators: which call (a number in [0, 1)), the
    process making it (the parent once a child has exited), a page among the n adjacent mappings of
    4 pages at VMA_M, and a length of `lengths`."""
    c = r.random(); pid = r.choice(pids)
    if not alive[pid]: pid = 1
    va = VMA_M + r.randint(0, n * 4 - 1) * 0x1000
    return c, pid, va, r.choice(list(lengths))

def vma_move(r, pid, va, ln, n):
    """An mremap of [va, va + ln) the same length: DONTUNMAP (the old range stays) or FIXED alone,
    to a free place or back next to the n adjacent mappings at VMA_M."""
    to = r.choice([VMA_N, VMA_N + 4 * 0x1000, VMA_D, VMA_M + n * 4 * 0x1000])
    return ev('mremap', pid=pid, va=u(va), old_length=u(ln), new_length=u(ln), flags=r.choice([7, 7, 3]), new_va=u(to))

def vma_resize(r, pid, va, ln):
    """An mremap of [va, va + ln) in place, or moving if it must, to 1, 2 or 8 pages."""
    return ev('mremap', pid=pid, va=u(va), old_length=u(ln), new_length=u(r.choice([0x1000, 0x2000, 0x8000])), flags=r.choice([0, 1]))

def vma_probe(r, pid, n):
    """away_and_back of a span of 2-8 pages among the n adjacent mappings at VMA_M, or at VMA_N or VMA_D."""
    a = r.choice([VMA_M + r.randint(0, n * 4 - 2) * 0x1000, VMA_N + r.randint(0, 6) * 0x1000, VMA_D])
    return away_and_back(pid, a, r.choice([2, 3, 4, 6, 8]) * 0x1000, 0x7f0030000000)

def run(prefix, trace):
    """Writes `{prefix}{seed}_{t:04d}.iort.jsonl` for t < COUNT (`{prefix}{seed}x{LONG}_...` when LONG is not 1), each the events `trace(r)` returns."""
    seed = int(sys.argv[1]); n = int(sys.argv[2])
    k = long_factor()
    if k != 1: prefix = f'{prefix}{seed}x{k}'; seed_part = ''
    else: seed_part = str(seed)
    for t in range(n):
        evs = trace(random.Random(seed * 100000 + t))
        with open(f'{prefix}{seed_part}_{t:04d}.iort.jsonl', 'w') as f:
            f.write(HEADER + '\n')
            for e in evs: f.write(json.dumps(e) + '\n')
