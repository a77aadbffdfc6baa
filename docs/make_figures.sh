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
# docs/fit.svg is the loss curve of the lecture's gradient descent on samples/logistic.csv
# (README, "Fitting parameters"): the loss and the gradient norm at each step (needs
# matplotlib: pip install '.[plot]').
adiff fit -f samples/logistic_program.adiff --data samples/logistic.csv --l2 0.1 --method gd --lr 0.05 --plot docs/fit.svg --format plain > /dev/null
