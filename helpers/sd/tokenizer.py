"""A small CLIP BPE tokenizer, generated offline from a corpus of prompts, and the checks that it loaded right.

Byte-pair encoding is Sennrich et al. 2016; CLIP's conventions (byte characters, ``</w>``,
start and end tokens) follow Radford et al. 2021. Derived in notebooks/06_stable_diffusion.ipynb §2.
"""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

from helpers.sd.config import SD15_TOKENIZER_MAX_LENGTH

# Prompts of the kind people give Stable Diffusion. Every lowercase word here becomes one token.
PROMPT_CORPUS = """
a photograph of an astronaut riding a horse on mars
a red fox in the snow, highly detailed, golden hour
a serene mountain lake at sunset, photorealistic, 4k
a cozy cabin in a snowy forest at night, warm light in the windows
an oil painting of a lighthouse on a rocky coast during a storm
a watercolor painting of a small village by the river in spring
a portrait of an old man with a white beard, studio lighting, 85mm
a portrait of a young woman with red hair, soft light, film grain
a cute cat wearing a tiny hat, digital art, trending on artstation
a golden retriever puppy playing in a field of flowers
a futuristic city at night with neon lights and flying cars, cyberpunk
a busy street in tokyo in the rain, cinematic, reflections
a medieval castle on a hill under a starry sky, fantasy art
a dragon flying over the ocean, epic, dramatic clouds
a bowl of fruit on a wooden table, still life, oil on canvas
a robot reading a book in a library, concept art
a sailing ship on a calm blue sea, morning fog
an ancient temple in the jungle, overgrown with green plants
a close up photo of a bee on a yellow sunflower, macro, sharp focus
a vintage car parked in front of a diner, retro style
a black and white photo of a jazz musician playing the saxophone
a pencil sketch of a tree in winter
a hot air balloon above the desert at sunrise
a bird sitting on a branch with cherry blossoms, japanese ink painting
a cup of coffee and a croissant on a cafe table, shallow depth of field
a children's book illustration of a bear and a rabbit having a picnic
a panda eating bamboo in a misty forest
an owl with big eyes in the moonlight
a snowy mountain peak above the clouds, aerial view
a field of lavender in provence, summer, vibrant colors
a surreal landscape with floating islands and waterfalls
a steampunk airship with brass gears, intricate details
a beautiful garden with roses and a stone fountain
a wooden boat on a quiet river in autumn, orange leaves
a knight in shining armor holding a sword, dark background
a minimalist poster of a whale, flat design, pastel colors
a pixel art scene of a castle and a dragon
a 3d render of a glass sphere on a marble floor, octane render
a man and a woman walking on the beach at dusk
a dog and a cat sleeping together on a sofa
an elephant and a giraffe on the african savanna
a girl reading under an umbrella in the rain
a boy flying a kite on a windy day
a plate of pasta with tomato sauce and basil, food photography
a bright kitchen with white cabinets, interior design
a modern house with large windows, architecture photography
a tiger resting in tall grass, wildlife photography
a galaxy with purple and pink nebula, space art
a volcano erupting at night with red lava
a frozen waterfall in a dark canyon
an impressionist painting of a bridge over a pond with water lilies
a comic book style superhero in a city
an anime girl with blue eyes and long silver hair
a map of a fantasy kingdom, parchment, hand drawn
a teddy bear on a skateboard in times square
a photo of a horse running through a meadow
a chair made of avocado, product photo
an astronaut floating in space with the earth in the background
"""

# CLIP's pre-tokenizer (the same pattern transformers' CLIPTokenizer uses), for ASCII text.
_WORD = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+")
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
TOKENIZER_FILES = ("merges.txt", "tokenizer_config.json", "vocab.json")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's and CLIP's map from each byte to a printable character, so BPE never sees whitespace or control bytes.

    Derived in notebooks/06_stable_diffusion.ipynb §2.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def corpus_words(text: str = PROMPT_CORPUS) -> collections.Counter:
    """How often each pre-tokenized word occurs in ``text``, lowercased as CLIP does.

    Derived in notebooks/06_stable_diffusion.ipynb §2.
    """
    return collections.Counter(_WORD.findall(text.lower()))


def train_bpe(words: collections.Counter) -> list[tuple[str, str]]:
    """Byte-pair merges (Sennrich et al. 2016) until every word is one symbol; ties go to the smallest pair.

    Derived in notebooks/06_stable_diffusion.ipynb §2.
    """
    byte_char = bytes_to_unicode()
    split = {}
    for word in words:
        symbols = [byte_char[b] for b in word.encode("utf-8")]
        symbols[-1] += "</w>"  # CLIP marks the end of a word on its last symbol
        split[word] = symbols
    merges = []
    while True:
        pairs: collections.Counter = collections.Counter()
        for word, symbols in split.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += words[word]
        if not pairs:
            return merges
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for word, symbols in split.items():
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            split[word] = merged


def tokenizer_files(text: str = PROMPT_CORPUS) -> dict[str, str]:
    """The contents of vocab.json, merges.txt and tokenizer_config.json for a CLIP tokenizer trained on ``text``.

    The vocabulary is laid out as CLIP's is: the 256 byte characters, the same with ``</w>``,
    one token per merge, then the start and end tokens (so the end token has the largest id).
    Derived in notebooks/06_stable_diffusion.ipynb §2.
    """
    merges = train_bpe(corpus_words(text))
    base = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for token in base + [b + "</w>" for b in base] + ["".join(m) for m in merges] + [BOS, EOS]:
        vocab.setdefault(token, len(vocab))
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": SD15_TOKENIZER_MAX_LENGTH,
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": EOS,  # SD 1.5 pads with the end token too
        "unk_token": EOS,
        "do_lower_case": True,
    }
    return {
        "vocab.json": json.dumps(vocab, ensure_ascii=False, indent=0) + "\n",
        "merges.txt": "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges),
        "tokenizer_config.json": json.dumps(config, indent=2) + "\n",
    }


def write_tokenizer_files(folder: Path) -> None:
    """Write :func:`tokenizer_files` into ``folder`` (how helpers/tokenizer/ was made).

    Derived in notebooks/06_stable_diffusion.ipynb §2.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tokenizer_files().items():
        (folder / name).write_text(text, encoding="utf-8")


def tokenizer_dir() -> Path:
    """The folder of the shipped tokenizer files, helpers/tokenizer/.

    Derived in notebooks/06_stable_diffusion.ipynb §2.
    """
    return Path(__file__).resolve().parents[1] / "tokenizer"


def shipped_vocab_size() -> int:
    """How many tokens the shipped vocab.json holds.

    Derived in notebooks/06_stable_diffusion.ipynb §2.
    """
    return len(json.loads((tokenizer_dir() / "vocab.json").read_text(encoding="utf-8")))


def check_tokenizer(tokenizer, vocab_size: int, prompt: str = "a photograph of an astronaut riding a horse") -> None:
    """Fail loudly if ``tokenizer`` is not the one we meant to load.

    Offline, a Hub tokenizer id can quietly give a tokenizer that knows only its special tokens, and
    transformers 5's ``CLIPTokenizer(vocab_file=..., merges_file=...)`` ignores those files; either
    way every prompt becomes start + end tokens and the text encoder sees no words at all.
    Derived in notebooks/06_stable_diffusion.ipynb §2.
    """
    if len(tokenizer) != vocab_size:
        raise RuntimeError(
            f"the tokenizer has {len(tokenizer)} tokens, expected {vocab_size}: it was not built "
            "from the intended vocab.json and merges.txt."
        )
    ids = tokenizer(prompt, truncation=True).input_ids  # truncated quietly to a short model_max_length
    words = [i for i in ids if i not in (tokenizer.bos_token_id, tokenizer.eos_token_id)]
    if not words:
        raise RuntimeError(f"{prompt!r} tokenizes to {ids}: only start and end tokens, the prompt is lost.")


def load_tokenizer(folder: Path | None = None):
    """The CLIP tokenizer of ``folder`` (default: the shipped helpers/tokenizer/), checked by :func:`check_tokenizer`.

    Derived in notebooks/06_stable_diffusion.ipynb §2.
    """
    from transformers import CLIPTokenizer

    folder = folder or tokenizer_dir()
    tokenizer = CLIPTokenizer.from_pretrained(str(folder))
    expected = len(json.loads((folder / "vocab.json").read_text(encoding="utf-8")))
    check_tokenizer(tokenizer, expected)
    return tokenizer
