"""Runs a command on a pseudo-terminal and answers its prompts, as a person at a terminal would.

Usage: tty_answer.py PROMPT ANSWER [PROMPT ANSWER ...] -- COMMAND [ARG ...]

Waits (at most 30 s each) until the terminal shows PROMPT and has stopped echoing (every prompt
answered here is a secret's), then types ANSWER and Enter; then
reads to the end. Prints everything the terminal showed (a no-echo prompt shows no answer) and
exits with the command's status.
"""
import os
import pty
import select
import sys
import termios
import time


def main():
    args = sys.argv[1:]
    split = args.index('--')
    pairs, command = args[:split], args[split + 1:]
    answers = list(zip(pairs[0::2], pairs[1::2]))
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    shown = b''
    for prompt, answer in answers:
        deadline = time.monotonic() + 30
        while prompt.encode() not in shown:
            if time.monotonic() > deadline:
                sys.stdout.write(shown.decode(errors='replace'))
                sys.exit(f'tty_answer: no prompt {prompt!r} within 30 s')
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b''
                if not chunk:
                    sys.stdout.write(shown.decode(errors='replace'))
                    sys.exit(f'tty_answer: the command ended before the prompt {prompt!r}')
                shown += chunk
        # Typed only once the terminal stops echoing (a secret's prompt turns echo off right
        # after it shows): typing ahead would be echoed by any program.
        deadline = time.monotonic() + 30
        while termios.tcgetattr(fd)[3] & termios.ECHO:
            if time.monotonic() > deadline:
                sys.stdout.write(shown.decode(errors='replace'))
                sys.exit(f'tty_answer: the terminal still echoes 30 s after the prompt {prompt!r}')
            time.sleep(0.01)
        # Only what comes after this prompt counts for the next one.
        shown_before = shown
        os.write(fd, answer.encode() + b'\n')
        shown = b''
        sys.stdout.write(shown_before.decode(errors='replace'))
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    sys.stdout.write(shown.decode(errors='replace'))
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


main()
