#!/usr/bin/env bash
cd "$(dirname "$0")/.." && exec cargo xtask db test-setup "$@"
