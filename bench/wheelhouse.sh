#!/usr/bin/env bash
# Build, here (where PyPI is reachable), the wheels the GPU validation host lacks, for
# bench/gpu_check.sh to install there with `pip install --no-index --find-links`.
#
# The host (the device tool's `nvidia-h200` machine) runs Python 3.12 on manylinux
# x86_64 and reaches no registry. finwatt's dependencies are resolved for that target;
# every one the host already has (HOST_HAS, from the device tool's KINDS.md package list
# of the 'cuda' image, read 2026-11-17) is left out, so its torch, CuPy and numpy stay the
# ones used; the rest is downloaded as wheels, with `pip download --only-binary :all:`.
# typing-extensions is always carried (pydantic needs a recent one) and setuptools too
# (the editable install builds finwatt with it, offline).
#
# The folder is git-ignored: carry it with the tree (device tool: carry ["wheelhouse"]).
#   usage: bench/wheelhouse.sh
#   env:   WHEELHOUSE (wheelhouse)  PIP (.venv/bin/pip)  PY_VERSION (3.12, the host's)
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELHOUSE=${WHEELHOUSE:-wheelhouse}
PIP=${PIP:-$([ -x .venv/bin/pip ] && echo .venv/bin/pip || echo "python3 -m pip")}
PY_VERSION=${PY_VERSION:-3.12}
TARGET=(--only-binary :all: --python-version "$PY_VERSION" --implementation cp
        --abi "cp${PY_VERSION/./}"
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
        --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64
        --platform manylinux_2_34_x86_64)
ALWAYS="typing-extensions setuptools"
HOST_HAS="absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio
attrs botorch build certifi charset-normalizer chex click cloudpickle cmake colorama contourpy
coverage cuda-bindings cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython
diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools formulaic
frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize
hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib
jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator
lineax llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes
mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals networkx
ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc
nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand
nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13
nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging
pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf
psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest
pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil
pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core
scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools
shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard
tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz
torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers
treescope triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig
werkzeug wheel wrapt xarray xxhash yarl zipp"

report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT
# finwatt's own dependencies, from pyproject.toml (the single place that lists them).
mapfile -t deps < <(python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml","rb"))["project"]["dependencies"]))')
echo "resolving ${#deps[@]} dependencies of finwatt for Python $PY_VERSION manylinux x86_64"
$PIP install --quiet --dry-run --ignore-installed --report "$report/resolved.json" \
  --target "$report/target" "${TARGET[@]}" "${deps[@]}" "setuptools>=68"

# name==version of every resolved wheel the host lacks (names compared PEP 503-normalised).
mapfile -t wanted < <(HOST_HAS="$HOST_HAS" ALWAYS="$ALWAYS" python3 - "$report/resolved.json" <<'PY'
import json, os, re, sys
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
host = {norm(n) for n in os.environ["HOST_HAS"].split()}
always = {norm(n) for n in os.environ["ALWAYS"].split()}
for item in json.load(open(sys.argv[1]))["install"]:
    name, version = item["metadata"]["name"], item["metadata"]["version"]
    if norm(name) not in host or norm(name) in always:
        print(f"{name}=={version}")
PY
)
mkdir -p "$WHEELHOUSE"
rm -f "$WHEELHOUSE"/*.whl  # one version of each: two would stop the host's install
echo "downloading ${#wanted[@]} wheels into $WHEELHOUSE: ${wanted[*]}"
$PIP download --quiet --no-deps --dest "$WHEELHOUSE" "${TARGET[@]}" "${wanted[@]}"
du -sh "$WHEELHOUSE"
ls "$WHEELHOUSE"
