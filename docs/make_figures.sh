#!/usr/bin/env bash
# Regenerate the figures under docs/ (needs adiff installed and Graphviz's `dot`):
#
#   docs/make_figures.sh
#
# docs/lecture.svg is the lecture's logistic-regression loss (samples/lecture.adiff)
# at θ0=1, θ1=1, x1=1, θ2=2, x2=2: every node with its value and the gradient of the
# loss, every edge with its local gradient. It is made by this one command:
#
#   adiff graph -f samples/lecture.adiff --at θ0=1,θ1=1,x1=1,θ2=2,x2=2 -o docs/lecture.svg
set -euo pipefail
cd "$(dirname "$0")/.."
adiff graph -f samples/lecture.adiff --at θ0=1,θ1=1,x1=1,θ2=2,x2=2 -o docs/lecture.svg
