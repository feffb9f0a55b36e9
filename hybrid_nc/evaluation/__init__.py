"""The evaluation harness behind `hybrid-nc eval` (docs/eval.md): one module per subcommand
(ocr, arith, captions, injection, latency; report for `all`), `common` for what they share and
`variants` for the ablation renderers and their training."""
