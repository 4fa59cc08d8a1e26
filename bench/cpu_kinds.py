#!/usr/bin/env python3
"""What a relay process spends its CPU on, from `perf report` of a `perf record` of that process.

    perf report -i FILE --no-children --sort dso,sym --stdio -g none -t '|' -n --percent-limit 0 | cpu_kinds.py

Prints one JSON object: {"samples": N, "kinds": {kind: percent of the samples}}. The kinds:

- copies (kernel): the kernel copying payload between a socket and a process's memory (recv and send)
- network stack (kernel): TCP/IP, the syscalls' entry, epoll, softirqs, memory for buffers: the rest of the kernel
- switching threads (kernel): context switches, yields and wake-ups. Where the CPU has no sampling counter (this
  project's VM) the sampler is a timer, and work the kernel does with interrupts off shows up where it turns them
  back on, which is mostly here (the end of a context switch) and in the unlocks of a wake-up
- copies (user space): memmove/memcpy/memset in libc (a TLS library's buffers, a relay's own copies)
- crypto: libcrypto and libssl
- runtime: the .NET runtime (libcoreclr, its native shims, the JIT compiler) and the rest of libc
- program: the program's own code: managed code for .NET (JIT'd or precompiled), the binary for socat and ssh

The kernel's functions are sorted by name (a handful of well-known ones); a kernel that renames them moves their
samples to "network stack", which the report's reader sees as a copy share that dropped to nothing.
"""
import json
import re
import sys

KERNEL_COPIES = re.compile(
    r"^(_copy_to_iter|_copy_from_iter|copy_user_\w+|rep_movs_alternative|copy_page_to_iter\w*|copy_page_from_iter\w*"
    r"|__check_object_size|check_heap_object|__virt_addr_valid|skb_copy_datagram_iter|__skb_datagram_iter"
    r"|simple_copy_to_iter|skb_copy_to_page_nocache|memcpy\w*|__memcpy\w*|memmove\w*|copy_splice_read)$")
KERNEL_SWITCHING = re.compile(
    r"^(finish_task_switch\S*|__schedule|schedule\w*|do_sched_yield|__x64_sys_sched_yield|yield_task_\w+"
    r"|pick_next_task\w*|put_prev_\w+|_raw_spin_unlock_irqrestore|_raw_spin_unlock_irq|try_to_wake_up|wake_up_q"
    r"|ttwu_\w+|futex_\w+|__futex_\w+|update_curr\w*|update_rq_clock\w*|dequeue_\w+|enqueue_\w+|psi_\w+"
    r"|__switch_to\w*|switch_mm\w*|prepare_task_switch|select_task_rq\w*|set_next_entity|pick_eevdf|check_preempt\w*"
    r"|resched_curr|__rseq_handle_notify_resume|rseq_\w+)$")
USER_COPIES = re.compile(r"^(__)?(memmove|memcpy|memset|mempcpy)\w*$")
RUNTIME_DSOS = re.compile(r"^(libcoreclr\.so|libclrjit\.so|libSystem\.\S+\.so|libclrgc\S*\.so|libhostfxr\.so"
                          r"|libhostpolicy\.so|ld-linux\S*|libc\.so\S*|libm\.so\S*|libstdc\+\+\.so\S*|libgcc\S*"
                          r"|\[vdso\]|libpthread\S*)$")
CRYPTO_DSOS = re.compile(r"^(libcrypto\.so\S*|libssl\.so\S*)$")


def kind(dso, sym):
    if dso == "[kernel.kallsyms]" or dso.startswith("[kernel"):
        if KERNEL_COPIES.match(sym):
            return "copies (kernel)"
        if KERNEL_SWITCHING.match(sym):
            return "switching threads (kernel)"
        return "network stack (kernel)"
    if CRYPTO_DSOS.match(dso):
        return "crypto"
    if dso.startswith("libc.so") and USER_COPIES.match(sym):
        return "copies (user space)"
    if RUNTIME_DSOS.match(dso):
        return "runtime"
    return "program"


def main():
    kinds = {}
    samples = 0
    for line in sys.stdin:
        # "overhead | samples | dso | symbol"
        parts = [p.strip() for p in line.split("|")]
        if line.startswith("#") or len(parts) < 4 or not parts[0].endswith("%") or not parts[1].isdigit():
            continue
        n = int(parts[1])
        k = kind(parts[2], re.sub(r"^\[[k.]\]\s*", "", parts[3]))
        kinds[k] = kinds.get(k, 0) + n
        samples += n
    shares = {k: v * 100 / samples for k, v in kinds.items()} if samples else {}
    json.dump({"samples": samples, "kinds": shares}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
