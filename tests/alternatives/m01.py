"""Correct answers to solutions/01_toy_signal written differently from the solution."""

ALTERNATIVES = {
    "numpy arrays and numpy scalars": {
        "your_turn_1": """
import random

import numpy as np

random.seed(0)
signal = [1.0, 0.6, 0.2]
steps = 3

x = np.array(signal)  # (3,) float64
for step in range(steps):
    # one fresh draw per value, in order
    x = x + np.array([random.gauss(0, 0.1) for _ in range(len(x))])
    print(f"step {step + 1}:", np.round(x, 3).tolist())
""",
        "your_turn_2": """
clean = [0.8, 0.4, 0.5]
true_noise = [0.3, 0.0, 0.4]
noisy = [c + n for c, n in zip(clean, true_noise)]   # what the model receives: [1.1, 0.4, 0.9]
predicted_noise = [0.2, 0.1, 0.3]                     # what the model thinks the noise is

denoised = np.array(noisy) - np.array(predicted_noise)
print("denoised:", np.round(denoised, 2))

leftover = np.subtract(true_noise, predicted_noise)
actual = denoised - np.array(clean)
print("leftover matches denoised - clean:", bool(np.allclose(leftover, actual, rtol=0, atol=1e-12)))
""",
        "mini_challenge": '''
import math

import numpy as np


def steps_to_reach(target_std, step_std):
    """Fewest k with k * step_std**2 >= target_std**2: variances add."""
    return np.ceil(target_std**2 / step_std**2).astype(np.int64)
''',
        "mini_challenge_measure": """
random.seed(0)
n = steps_to_reach(1.0, 0.15)  # np.int64
ends = np.zeros(2000)
for trial in range(2000):
    position = 0.0
    for _ in range(n):
        position += random.gauss(0, 0.15)
    ends[trial] = position
measured_std = np.sqrt(np.mean(ends**2))  # np.float64
print(f"n = {n} steps: predicted std {0.15 * np.sqrt(n):.3f}, measured {measured_std:.3f}")
""",
        "knowledge_check": """
q1, q2, q3 = 'c', 'a', 'd'
""",
    },
    "tuples, loops and another formula": {
        "your_turn_1": """
import random

random.seed(0)
signal = [1.0, 0.6, 0.2]
steps = 3

x = tuple(signal)
for step in range(1, steps + 1):
    noised = []
    for value in x:
        noised.append(value + random.gauss(0, 0.1))
    x = tuple(noised)
    print(f"step {step}:", [round(v, 3) for v in x])
""",
        "your_turn_2": """
clean = [0.8, 0.4, 0.5]
true_noise = [0.3, 0.0, 0.4]
noisy = [c + n for c, n in zip(clean, true_noise)]   # what the model receives: [1.1, 0.4, 0.9]
predicted_noise = [0.2, 0.1, 0.3]                     # what the model thinks the noise is

denoised = tuple(value + (-guess) for value, guess in zip(noisy, predicted_noise))
print("denoised:", tuple(round(v, 2) for v in denoised))

# denoised - clean = (clean + true_noise - predicted_noise) - clean
leftover = tuple(-(guess - real) for real, guess in zip(true_noise, predicted_noise))
actual = tuple(d - c for d, c in zip(denoised, clean))
print("leftover matches denoised - clean:", max(abs(a - b) for a, b in zip(leftover, actual)) < 1e-12)
""",
        "mini_challenge": '''
import math


def steps_to_reach(target_std: float, step_std: float) -> int:
    """Count up until sqrt(k) steps of step_std reach target_std."""
    k = 1
    while step_std * math.sqrt(k) < target_std:
        k += 1
    return k
''',
        "mini_challenge_measure": '''
import random


def one_trial(n_steps: int, step_std: float) -> float:
    """The end of one walk of n_steps Gaussian steps from 0."""
    return sum(random.gauss(0, step_std) for _ in range(n_steps))


random.seed(0)
n = steps_to_reach(1.0, 0.15)
ends = tuple(one_trial(n, 0.15) for _ in range(2000))
measured_std = math.sqrt(math.fsum(e**2 for e in ends) / len(ends))
print(f"n = {n} steps: predicted std {0.15 * math.sqrt(n):.3f}, measured {measured_std:.3f}")
''',
        "knowledge_check": """
answers = "cad"
q1, q2, q3 = answers
""",
    },
    "float32 arrays": {
        "your_turn_1": """
import random

import numpy as np

random.seed(0)
signal = [1.0, 0.6, 0.2]
steps = 3

x = np.asarray(signal, dtype=np.float32)
for step in range(steps):
    x = np.array([v + random.gauss(0, 0.1) for v in x], dtype=np.float32)
    print(f"step {step + 1}:", [round(float(v), 3) for v in x])
""",
        "your_turn_2": """
clean = [0.8, 0.4, 0.5]
true_noise = [0.3, 0.0, 0.4]
noisy = [c + n for c, n in zip(clean, true_noise)]   # what the model receives: [1.1, 0.4, 0.9]
predicted_noise = [0.2, 0.1, 0.3]                     # what the model thinks the noise is

denoised = np.asarray(noisy, dtype=np.float32) - np.asarray(predicted_noise, dtype=np.float32)
print("denoised:", denoised.round(2))
leftover = np.asarray(true_noise, dtype=np.float32) - np.asarray(predicted_noise, dtype=np.float32)
actual = denoised - np.asarray(clean, dtype=np.float32)
print("leftover matches denoised - clean:", bool(np.allclose(leftover, actual, atol=1e-6)))
""",
        "mini_challenge_measure": """
random.seed(0)
n = int(steps_to_reach(1.0, 0.15))
ends = []
for _ in range(2000):
    x = np.float32(0.0)
    for _ in range(n):
        x = np.float32(x + random.gauss(0, 0.15))
    ends.append(x)
measured_std = np.sqrt(np.mean(np.square(ends)))  # np.float32
print(f"n = {n} steps: predicted std {0.15 * math.sqrt(n):.3f}, measured {measured_std:.3f}")
""",
        "knowledge_check": """
q1 = 'c'
q2 = 'a'
q3 = "abcd"[3]
""",
    },
}
