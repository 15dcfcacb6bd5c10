"""The README's measured tables, generated from the benchmark results (``core.results``).

Each table stands in the README between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``;
``python -m bench.report --readme`` (``make readme``) writes them anew from ``bench/results/*.json``, and
``--check`` exits 1 when the README says anything else (a test runs it). No number in these tables is
typed by hand: each cell reads the results file it names.

    .venv/bin/python -m bench.report --readme      # after a benchmark: the README follows its results
    .venv/bin/python -m bench.report --check       # the README and the results agree (exit 0) or not (1)
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from core import recommended, results
from core.recommended import FUSED, HEADS_VOTES
from core.recommended import attr_ma as attr
from core.recommended import over_seeds as spread
from core.recommended import reid_rank as reid
from core.recommended import site_mean as site
from core.wording import percent as pct

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /results:(?P=name) -->)", re.S)


def v(name: str, heading: str, column: str, **where):
    return results.value(name, heading, column, **where)


def p10(method: str, k: int | None = None) -> str:
    k = k if k is not None else v("clustering", "Sweep time", "BIC-best k", setting=SWEEP)
    return f"{v('clustering', 'Recommendations', 'P@10', method=method, k=k):.3f}"


def cold(n: int, method: str) -> str:
    return f"{v('clustering', 'New users', 'P@10', n=n, method=method):.3f}"


def seconds(s: float) -> str:
    return f"{s:,.1f} s" if s < 100 else f"{s:,.0f} s"


def clock(s: float) -> str:
    """A duration as a clock would say it: 1125 -> "18 min 45 s"."""
    m, s = divmod(round(s), 60)
    return f"{m} min {s} s" if m else f"{s} s"


SWEEP = recommended.SHARE_PROFILE
REID_METHODS = ("LOMO + XQDA", "GOG + XQDA", "LOMO + GOG + XQDA", "frozen Xception + XQDA", FUSED)
NS = (1, 3, 5, 10, 20)
HYBRID = "hybrid (groups + item-kNN + popularity)"
BNNECK = "strong baseline: Xception exit flow fine-tuned (BNNeck, last stride 1)"


def headline() -> list[tuple[str, str, str, str]]:
    """(system, measure, result, target) rows: the headline numbers, each read from its results file."""
    sweep = results.row("clustering", "Sweep time", setting=SWEEP)
    steps = [r["slider step ms"] for r in results.rows("clustering", "Slider step")]
    visitors = results.rows("clustering", "A visitor rating films")
    scale = results.rows("clustering", "Scale: the hybrid")[0]
    cold_best = [max((float(cold(n, m)), m) for m in ("most popular", "item-kNN")) for n in NS]
    gog = {r["implementation"].split(" ")[0]: r for r in results.rows("reid-gog", "Speed")}
    lat = {r["method"]: r for r in results.rows("reid-gog", "Query latency")}
    lomo_lat = v("reid-nondeep", "Query latency", "query latency ms (median of 20)", method="LOMO + XQDA")
    cross = {(r["method"], r["cameras"]): r["Rank-1"] for r in results.rows("reid-cross", "Cross-dataset")}
    prep = {r["system"]: r for r in results.rows("prepare", "make models")}
    serving = results.rows("serving", "Simultaneous visitors")
    plain = {r["visitors"]: r for r in serving if r["file watcher"] == "none" and not r["full GC after each run"]}
    watcher = next(r for r in serving if r["file watcher"] != "none")
    gc = next(r for r in serving if r["full GC after each run"])
    gmm10 = {r["backend"]: r for r in results.rows("scale", "GMM fits") if r["k"] == 10}
    index = {r["backend"]: r for r in results.rows("scale", "Gallery index") if r["embeddings"] == 1_000_000}
    mid_seeds = [v("attributes-256x128-mid-seeds", "Heads", "mA", seed=s) for s in (0, 1, 2)]
    ens_pd = [v("attributes-256x128-mid-ensemble-pd-seeds", "Heads", "mA", seed=s) for s in (0, 1, 2)]
    ft_seeds = [v("attributes-256x128-seeds", "Fine-tuned", "mA", seed=s) for s in (0, 1, 2)]
    ensemble = results.row("attributes-cross-site-mid-ensemble", "Mean over", model="heads + neighbour votes")
    ensemble_seeds = ensemble["each seed's mean"]
    mid_site = results.row("attributes-cross-site-mid", "Mean over", model="heads + neighbour votes")
    ft_site = results.row("attributes-cross-site-finetuned", "Mean over",
                          model="fine-tuned exit flow (3 epochs max) + neighbour votes")
    cal = "attributes-256x128-calibrated"
    return [
        ("clustering", "sweep k = 1..25 x 5 seeds, ml-latest-small (`clustering.md`)",
         seconds(sweep["seconds (25 k x 5 seeds)"]), "< 20 s"),
        ("clustering", "slider step (load model, assign, recommend) at k = " + ", ".join(
            str(r["k"]) for r in results.rows("clustering", "Slider step")),
         f"{min(steps):.0f}-{max(steps):.0f} ms", "< 1 s"),
        ("clustering", f"P@10, temporal 80/20, BIC-best k = {sweep['BIC-best k']}",
         f"GMM {p10('GMM clusters (liked share)')}, most popular {p10('most popular')}, item-kNN "
         f"{p10('item-kNN (50 neighbours)')}, **hybrid {p10(HYBRID)}**", "GMM > most popular; hybrid >= 0.09"),
        ("clustering", "P@10 for new users known by n = " + " / ".join(map(str, NS)) + " ratings: hybrid; the better "
                       "baseline (most popular or item-kNN)",
         " / ".join(cold(n, "hybrid") for n in NS) + "; " + " / ".join(f"{p:.3f} ({m})" for p, m in cold_best),
         "hybrid beats both baselines at every n"),
        ("clustering", "a visitor's rating -> membership, profile, 10 recommendations with reasons, next question: "
                       "ml-latest-small; 162,000 generated users",
         f"{min(r['median ms per rating'] for r in visitors):.0f}-{max(r['median ms per rating'] for r in visitors):.0f}"
         f" ms median, {max(r['max ms per rating'] for r in visitors):.0f} ms max; "
         f"{scale['visitor: median ms per rating (12 ratings)']:.0f} ms median, "
         f"{scale['visitor: max ms per rating']:.0f} ms max", "< 300 ms"),
        ("clustering", f"{scale['users']:,} generated users, {scale['ratings'] / 1e6:.1f}M ratings: hybrid's parts; "
                       "cold start (2 folds x 2,000 test users)",
         f"{scale['hybrid parts fit s (item-kNN 200 + groups + popularity)']:.0f} s; "
         f"{scale['cold start s (2 folds x 2000 test users, n = 1, 5, 20)']:.0f} s; "
         f"peak {scale['peak RSS MB (whole process)'] / 1000:.1f} GB", "time and memory, no target"),
        ("re-ID", "Rank-1, literature protocol, mean of 10 splits: " + "; ".join(REID_METHODS[:-1]) +
         "; **fused** (`reid-nondeep.md`)",
         "; ".join(reid("literature", m) for m in REID_METHODS[:-1]) + f"; **{reid('literature', FUSED)}** (mAP " +
         " / ".join(reid("literature", m, "mAP") for m in REID_METHODS) + ")", ">= 53 %"),
        ("re-ID", "course split Rank-1: " + ", ".join(REID_METHODS[:-1]) + ", fused; course network, course "
                  "network + LOMO + GOG fusion (`reid.md`)",
         ", ".join(reid("course", m) for m in REID_METHODS[:-1]) + f", **{reid('course', FUSED)}** (mAP "
         f"{reid('course', FUSED, 'mAP')}); {reid('course', 'course network', name='reid')}, "
         f"{reid('course', 'fusion: course network + LOMO + GOG + XQDA', name='reid')}", ">= 35 %"),
        ("re-ID", "Rank-1, random 482/150, mean of 10 splits: LOMO + XQDA; LOMO + GOG + XQDA; fused",
         "; ".join(reid("random-course", m) for m in ("LOMO + XQDA", "LOMO + GOG + XQDA", FUSED)), "report"),
        ("re-ID", "trained on VIPeR's course split, tested on PRID 2011 (PETA's copy; 10 splits; `reid-cross.md`), "
                  "Rank-1 with the cameras as trained → adapted from their own photos: LOMO + XQDA; LOMO + GOG + XQDA; "
                  "frozen Xception; fused",
         "; ".join(f"{pct(cross[m, 'as trained'])} → {pct(cross[m, 'adapted'])}"
                   for m in ("LOMO + XQDA", "LOMO + GOG + XQDA", "frozen Xception + XQDA")) +
         f"; **{pct(cross[FUSED, 'as trained'])} → {pct(cross[FUSED, 'adapted'])}**", "fused adapted >= 28 %"),
        ("re-ID", "deep models, one split each (CPU time): course network literature-0 / random-course-0; Xception "
                  "stripes + PETA persons literature-0 (`reid.md`, `reid-extra.md`)",
         f"{reid('literature', 'course network', name='reid')} / {reid('random-course', 'course network', name='reid')}"
         f"; {reid('literature', 'Xception stripes + PETA identities', name='reid-extra')}", "report"),
        ("re-ID", "strong baseline (`xception-bnneck`), literature splits 0-2 (`reid-bnneck.md`): alone (mAP), "
                  "train s per split; frozen Xception + XQDA and the fused method on the same splits; with PETA's "
                  "other persons, literature-0 (`reid-bnneck-extra.md`)",
         f"{reid('literature', BNNECK, name='reid-bnneck')} ({reid('literature', BNNECK, 'mAP', name='reid-bnneck')}), "
         f"{v('reid-bnneck', 'Summary', 'train s', protocol='literature', method=BNNECK, re_ranking=False):,.0f} s; "
         f"{reid('literature', 'frozen Xception + XQDA', name='reid-bnneck')} and "
         f"**{reid('literature', FUSED, name='reid-bnneck')}**; "
         f"{reid('literature', 'strong baseline + PETA identities', name='reid-bnneck-extra')}",
         "beat the frozen deep part (not reached)"),
        ("re-ID", "training from empty caches, course split (descriptors, cross-validation, test): fused; LOMO + GOG "
                  "+ XQDA (`presets.md`)",
         f"{seconds(recommended.by_key('reid', 'fused-xqda').seconds)}; "
         f"{seconds(recommended.by_key('reid', 'lomo-gog-xqda').seconds)}", "<= 5 min"),
        ("re-ID", "query latency, upload -> ranked 632-image gallery, median (max) of 20 (`reid-gog.md`): LOMO + GOG "
                  "+ XQDA; fused. LOMO + XQDA (`reid-nondeep.md`)",
         f"{lat['LOMO + GOG + XQDA']['query ms (median of 20)']:.1f} ms "
         f"({lat['LOMO + GOG + XQDA']['query ms (max of 20)']:.1f}); "
         f"**{lat['fused with frozen Xception']['query ms (median of 20)']:.1f} ms** "
         f"({lat['fused with frozen Xception']['query ms (max of 20)']:.1f}). {lomo_lat:.1f} ms",
         "fused <= 100 ms, LOMO + GOG <= 60 ms"),
        ("re-ID", "GOG on 2 cores (`reid-gog.md`): images/s with two workers, today against the previous "
                  "implementation; descriptors' largest relative difference",
         f"**{gog['today']['images/s, 2 workers']}** against {gog['baseline']['images/s, 2 workers']} images/s; "
         f"{v('reid-gog', 'Agreement', 'max relative difference', images=200)}", ">= 36 images/s"),
        ("attributes", "mA, frozen Xception 128 x 64, DeepMAR weights + tuned thresholds: random images "
                       "(person-disjoint) (`attributes.md`)",
         f"{attr('attributes', 'random-image', recommended.BEST_128)} "
         f"({attr('attributes', 'person-disjoint', recommended.BEST_128)})", "report"),
        ("attributes", "mA, frozen Xception 256 x 128 + stripes; + neighbour votes: random images (person-disjoint) "
                       "(`attributes-256x128.md`)",
         f"{attr('attributes-256x128', 'random-image', 'best heads: + DeepMAR weights + thresholds tuned on validation')}"
         f"; {attr('attributes-256x128', 'random-image', HEADS_VOTES)} "
         f"({attr('attributes-256x128', 'person-disjoint', 'best heads: + DeepMAR weights + thresholds tuned on validation')}"
         f"; {attr('attributes-256x128', 'person-disjoint', HEADS_VOTES)})", "report"),
        ("attributes", "mA, one set of heads + neighbour votes on `stripes-mid` features: random images, seeds 0-2 "
                       "(`attributes-256x128-mid-seeds.md`); person-disjoint, its ECE (`attributes-256x128-mid.md`)",
         f"**{spread('attributes-256x128-mid-seeds')}** mean (" + ", ".join(pct(x) for x in mid_seeds) + "); **"
         f"{attr('attributes-256x128-mid', 'person-disjoint', HEADS_VOTES)}**, ECE "
         f"{attr('attributes-256x128-mid', 'person-disjoint', HEADS_VOTES, 'ECE')}", ">= 84 %; person-disjoint >= 71 %"),
        ("attributes", "**the recommended model**, three heads averaged + neighbour votes on `stripes-mid` features: "
                       "person-disjoint, seeds 0-2 (`-ensemble-pd-seeds.md`), ECE; random images, seed 0 "
                       "(`-ensemble-random.md`); cross-site mean over PETA's held-out sites, its seeds, lowest "
                       "(`attributes-cross-site-mid-ensemble.md`)",
         f"**{spread('attributes-256x128-mid-ensemble-pd-seeds')}** (" + ", ".join(pct(x) for x in ens_pd) +
         f"), ECE {spread('attributes-256x128-mid-ensemble-pd-seeds', column='ECE')}; "
         f"**{spread('attributes-256x128-mid-ensemble-random')}**; **{pct(ensemble['mean mA'])}** "
         f"({ensemble['seeds']} seeds: {ensemble_seeds}; lowest "
         f"{pct(ensemble['lowest mA'])}, {ensemble['lowest subset']}; {ensemble['subsets below 60 %']} sites "
         "below 60 %)", "person-disjoint >= 71 %, cross-site 67.3 % with no site below 60 % (not reached)"),
        ("attributes", "mA, exit flow fine-tuned on cached maps + image / mirror average + neighbour votes, 256 x 128 "
                       "+ stripes: random images, seeds 0-2 (`attributes-256x128-seeds.md`); person-disjoint",
         f"**{spread('attributes-256x128-seeds')}** (" + ", ".join(pct(x) for x in ft_seeds) + f"); "
         f"{attr('attributes-256x128', 'person-disjoint', recommended.FINETUNED)}", ">= 82 %"),
        ("attributes", "cross-site, mean mA over the 9 PETA subsets each held out in turn (lowest): one set of heads "
                       "+ votes on `stripes-mid` (`attributes-cross-site-mid.md`); the fine-tuned pipeline "
                       "(`-finetuned.md`); heads + votes on the last map's stripes; + mirror and camera views "
                       "(`-heads.md`)",
         f"{pct(mid_site['mean mA'])} ({pct(mid_site['lowest mA'])}, {mid_site['lowest subset']}); "
         f"{pct(ft_site['mean mA'])} ({pct(ft_site['lowest mA'])}); "
         f"{site('attributes-cross-site-heads', 'heads + neighbour votes')}; "
         f"{site('attributes-cross-site-heads', 'heads + mirror and camera views + neighbour votes')}",
         "+8 points over the baseline (67.3 %), no subset below 60 % (not reached)"),
        ("attributes", "cross-site, what was tried to generalise (`-novotes.md`, `-balance.md`): without the votes; "
                       "images drawn evenly per site; per person",
         f"{site('attributes-cross-site-novotes', 'heads, no neighbour votes')}; "
         f"{site('attributes-cross-site-balance', 'heads + neighbour votes, drawn evenly per subset')}; "
         f"{site('attributes-cross-site-balance', 'heads + neighbour votes, drawn evenly per person')}", "report"),
        ("attributes", "person-disjoint, calibrated models (`attributes-256x128-calibrated.md`): mA, ECE before -> "
                       "after calibration; best heads; + neighbour votes; fine-tuned",
         "; ".join(f"{attr(cal, 'person-disjoint', m)}, {attr(cal, 'person-disjoint', m, 'ECE before calibration')} "
                   f"-> {attr(cal, 'person-disjoint', m, 'ECE')}" for m in (
                       "best heads: + DeepMAR weights + thresholds tuned on validation", HEADS_VOTES,
                       recommended.FINETUNED)), "ECE <= 5 % (reached); mA >= 71 % (not reached)"),
        ("ready to demo", "`make models` on VIPeR + MovieLens latest-small + PETA from empty caches (`prepare.md`): "
                          "re-ID, clustering, attributes (the recommended models then); again with all kept",
         ", ".join(seconds(prep[s]["seconds"]) for s in prep) +
         f": **{clock(results.info('prepare')['total_s'])}** in all; "
         f"{seconds(results.info('prepare')['second_run_s'])}", "every page ready within 30 min"),
        ("serving", "server CPU per visitor (open the clustering page, move the slider 3 times), " +
         " / ".join(str(n) for n in sorted(plain)) + " at once (`serving.md`)",
         " / ".join(f"{plain[n]['server CPU s per visitor']:.2f}" for n in sorted(plain)) +
         f" s; with the file watcher on {watcher['server CPU s per visitor']:.2f} s; with Streamlit's GC after "
         f"every run {gc['server CPU s per visitor']:.2f} s", "measured, cut where spent"),
        ("scale", "GMM fit on 1M users, k = 10, full covariances, 20 EM iterations (`scale.md`)",
         f"scikit-learn {gmm10['sklearn']['fit s']:.0f} s ({gmm10['sklearn']['peak memory MiB']:,} MiB), Spark "
         f"local[2] {gmm10['spark local[2]']['fit s']:.0f} s ({gmm10['spark local[2]']['peak memory MiB']:,} MiB)",
         "measured, no target"),
        ("scale", "gallery of 1M 256-d embeddings, one query, top 10",
         f"exact {index['exact']['query latency ms (median, 1 query, top 10)']:.0f} ms; FAISS HNSW "
         f"{index['faiss HNSW, efSearch 1024']['query latency ms (median, 1 query, top 10)']:.1f} ms at recall@10 "
         f"{index['faiss HNSW, efSearch 1024']['recall@10 vs exact']:.2f} (efSearch 1024)", "measured, no target"),
    ]


def serving() -> list[tuple]:
    rows = results.rows("serving", "Simultaneous visitors")
    out = []
    for r in rows:
        what = str(r["visitors"])
        if r["file watcher"] != "none":
            what += ", Streamlit's file watcher on"
        if r["full GC after each run"]:
            what += ", Streamlit's full garbage collection after every run (its default)"
        out.append((what, f"{r['server CPU s per visitor']:.2f} s", f"{r['server CPU s']:.1f} s",
                    f"{r['load generator CPU s']:.0f} s", f"{r['wall s']:.1f} s"))
    return out


def presets() -> list[tuple]:
    return [(p.system, f"`{p.key}`" + (" (recommended)" if i == 0 else ""), p.title, p.measured
             + (f"; on new sites: {p.new_sites}" if p.new_sites else ""), seconds(p.seconds), p.timing["how"])
            for ps in recommended.PRESETS.values() for i, p in enumerate(ps)]


TABLES = {
    "headline": (("system", "measure", "result", "target in the issue"), headline),
    "serving": (("visitors at once", "server CPU per visitor", "server CPU in all",
                 "browsers' CPU (the load generator, apart)", "wall time until all were done"), serving),
    "presets": (("system", "preset", "configuration", "measured", "training time, empty caches", "how timed"),
                presets),
}


def table(name: str) -> str:
    head, make = TABLES[name]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in make()]
    return "\n".join(lines) + "\n"


def render(text: str) -> str:
    """``text`` (the README) with every results block written anew; an unknown block name is an error."""
    def block(m: re.Match) -> str:
        if m.group("name") not in TABLES:
            raise results.ResultsError(f"README: unknown results table '{m.group('name')}' ({', '.join(TABLES)})")
        return m.group(1) + table(m.group("name")) + m.group(4)
    return BLOCK.sub(block, text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--readme", action="store_true", help="write the README's results tables anew")
    mode.add_argument("--check", action="store_true", help="exit 1 when the README's tables differ from the results")
    mode.add_argument("--table", choices=list(TABLES), help="print one table")
    args = p.parse_args(argv)
    if args.table:
        print(table(args.table), end="")
        return 0
    text = README.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print("README.md's results tables differ from bench/results: run python -m bench.report --readme",
                  file=sys.stderr)
            return 1
        return 0
    if new != text:
        from core import artifacts

        artifacts.atomic_write_text(README, new)
    print(f"{README.name}: {len(BLOCK.findall(new))} results tables written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from core import cli

    sys.exit(cli.run(main))
