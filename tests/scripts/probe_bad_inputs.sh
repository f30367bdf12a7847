#!/bin/bash
# Issue 16 before/after: what radrl does with bad input. Usage, from a checkout with .venv:
#   tests/scripts/probe_bad_inputs.sh [SRC_CHECKOUT]   (default: this one; a git worktree of an
#   older commit shows the "before")
SRC=$(cd "${1:-.}" && pwd); W=$(mktemp -d); export PYTHONPATH=$SRC/src
PY=${PYTHON:-$PWD/.venv/bin/python}
R="$PY -m radrl.cli"
printf 'id,report\n1,Clear lungs.\n2,"Small effusion.\n3,Cardiomegaly.\n4,Edema.\n5,Normal.\n' > $W/q.csv
$R label $W/q.csv -o $W/q.jsonl >/dev/null 2>$W/err; echo "unbalanced-quote CSV (5 rows): exit $? lines $(cat $W/q.jsonl 2>/dev/null | wc -l)"
echo '{"id": 1, "report": [1, 2]}' > $W/n.jsonl
$R label $W/n.jsonl -o $W/n.out >/dev/null 2>&1; echo "report [1, 2]: exit $?"
printf '%s\n' '{"id":"a","prediction":"Cardiomegaly.","reference":"Cardiomegaly."}' '{"id":"b","prediction":"Clear.","reference":"Pleural effusion."}' '{"id":"a","prediction":"Edema.","reference":"Cardiomegaly."}' > $W/d.jsonl
$R eval $W/d.jsonl -o $W/d.json --no-meteor >/dev/null 2>&1; echo "eval with id 'a' twice (3 lines): exit $? n=$($PY -c "import json;print(json.load(open('$W/d.json'))['n'])")"
mkdir -p $W/data; $PY -c "
from PIL import Image; Image.new('L',(32,32),128).save('$W/data/a.png'); Image.new('L',(32,32),128).save('$W/secret.png')"
: > $W/data/b.png
printf '%s\n' '{"id":"a","images":["a.png"],"report":"Clear."}' '{"id":"b","images":["b.png"],"report":"Clear."}' '{"id":"c","images":["../secret.png"],"report":"Clear."}' > $W/data/r.jsonl
$R generate tiny-sft --data records:$W/data/r.jsonl -o $W/p.jsonl --max-new-tokens 4 >/dev/null 2>$W/gerr; echo "generate, 1 zero-byte image + 1 '../' path of 3: exit $? written $(cat $W/p.jsonl 2>/dev/null | wc -l) lines; traceback: $(grep -c Traceback $W/gerr)"
cp -r $SRC/src/radrl/models/tiny-sft $W/broken; $PY -c "
import os; p='$W/broken/model.safetensors'; b=open(p,'rb').read(); open(p,'wb').write(b[:len(b)//2])"
$R generate $W/broken --data records:$W/data/r.jsonl -o $W/p2.jsonl --max-new-tokens 4 >/dev/null 2>$W/terr; echo "generate with truncated model.safetensors: exit $? traceback: $(grep -c Traceback $W/terr)"
rm -rf $W
