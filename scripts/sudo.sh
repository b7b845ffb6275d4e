#!/usr/bin/env bash
# Prints "sudo" when not root, so that "$(scripts/sudo.sh) apt-get ..." works for both.
[[ $(id -u) == 0 ]] || echo sudo
