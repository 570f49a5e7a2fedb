"""Train the packaged digits U-Net: the recipe and its measured numbers are in helpers/pretrained.py.

python scripts/train_pretrained.py [--eval-only]
"""

from helpers.pretrained import main

if __name__ == "__main__":
    main()
