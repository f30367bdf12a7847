"""Loaders on the real IU files (skipped without ../shared/data) and on broken inputs."""

import io
import json
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from radrl.data import (
    DataError,
    load_chexpert_plus,
    load_openi,
    load_r2gen,
    load_records,
    split_sections,
)
from radrl.io import InputError

# ---- sections ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "findings", "impression"), [
    ("FINDINGS: Heart normal. No effusion.\nIMPRESSION: No acute disease.", "Heart normal. No effusion.", "No acute disease."),
    ("INDICATION: cough.\n\nFINDINGS:\nLungs clear.\n\nIMPRESSION:\n1. Normal.", "Lungs clear.", "1. Normal."),
    ("Findings\nLungs clear\nImpression\nnormal", "Lungs clear", "normal"),
    ("findings: lungs clear. conclusion: normal chest.", "lungs clear.", "normal chest."),
    ("IMPRESSION: Small effusion.", None, "Small effusion."),
    ("FINDINGS:  \nIMPRESSION: Small effusion.", None, "Small effusion."),
    ("Lungs are clear. No effusion.", None, None),
    ("", None, None),
])
def test_split_sections(text, findings, impression):
    s = split_sections(text)
    assert (s.findings, s.impression) == (findings, impression)


def test_split_sections_keeps_headerless_text_as_body():
    s = split_sections("Lungs are clear.\nNo effusion.")
    assert s.body == "Lungs are clear. No effusion." and not s.has_both


# ---- R2Gen on the real IU X-Ray files ------------------------------------------------------------


def test_r2gen_iu_real_files(shared_data):
    ann = shared_data / "iu_xray" / "annotation.json"
    with pytest.warns(UserWarning, match="missing image"):
        samples = load_r2gen(ann, split="train")
    assert sorted(s.id for s in samples) == ["CXR1900_IM-0584", "CXR7_IM-2263"]
    assert all(len(s.images) == 2 and s.report for s in samples)
    everything = load_r2gen(ann, split=None, check_images="none")
    assert len(everything) == 2069 + 296 + 590
    assert {s.meta["split"] for s in everything} == {"train", "val", "test"}


def test_r2gen_view_policies_and_decode(shared_data):
    ann = shared_data / "iu_xray" / "annotation.json"
    with pytest.warns(UserWarning):
        per_image = load_r2gen(ann, views="per_image", check_images="decode")
    assert len(per_image) == 4 and all(len(s.images) == 1 for s in per_image)
    assert {s.meta["study_id"] for s in per_image} == {"CXR1900_IM-0584", "CXR7_IM-2263"}
    with pytest.warns(UserWarning):
        frontal = load_r2gen(ann, views="frontal")
    assert all(s.images[0].endswith("0.png") for s in frontal)


def test_r2gen_strict_mode_names_the_sample(shared_data):
    with pytest.raises(DataError, match="missing image"):
        load_r2gen(shared_data / "iu_xray" / "annotation.json", strict=True)


def _png(path, size=8):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (size, size), 128).save(path)
    return path


def test_r2gen_broken_inputs(tmp_path):
    _png(tmp_path / "images" / "a" / "0.png")
    _png(tmp_path / "images" / "b" / "0.png")
    (tmp_path / "images" / "c").mkdir(parents=True)
    (tmp_path / "images" / "c" / "0.png").write_bytes(b"not a png at all")
    ann = {"train": [
        {"id": "a", "report": "Lungs clear.", "image_path": ["a/0.png"]},
        {"id": "b", "report": "   ", "image_path": ["b/0.png"]},          # empty report
        {"id": "c", "report": "Cardiomegaly.", "image_path": ["c/0.png"]},  # corrupt image
        {"id": "d", "report": "Effusion.", "image_path": ["d/0.png"]},      # missing image
    ]}
    path = tmp_path / "annotation.json"
    path.write_text(json.dumps(ann))
    with pytest.warns(UserWarning, match=r"kept 1, skipped 3"):
        ok = load_r2gen(path, check_images="decode")
    assert [s.id for s in ok] == ["a"]
    with pytest.raises(InputError, match="no split 'dev'"):
        load_r2gen(path, split="dev")
    path.write_text("{not json")
    with pytest.raises(InputError, match="invalid JSON"):
        load_r2gen(path)
    with pytest.raises(ValueError, match="views"):
        load_r2gen(path, views="lateral")


# ---- Open-i XML, as NLM publishes it -------------------------------------------------------------

OPENI_XML = """<?xml version="1.0" encoding="utf-8"?>
<eCitation>
  <meta type="rr"/>
  <uId id="CXR{n}"/>
  <MedlineCitation Owner="Indiana University" Status="supplied by publisher">
    <Article PubModel="Electronic">
      <Abstract>
        <AbstractText Label="COMPARISON">None.</AbstractText>
        <AbstractText Label="INDICATION">Cough.</AbstractText>
        <AbstractText Label="FINDINGS">{findings}</AbstractText>
        <AbstractText Label="IMPRESSION">{impression}</AbstractText>
      </Abstract>
    </Article>
  </MedlineCitation>
  <MeSH><major>{mesh}</major></MeSH>
  <parentImage id="CXR{n}_IM-0001-1001"><figureId>F1</figureId></parentImage>
  <parentImage id="CXR{n}_IM-0001-2001"><figureId>F2</figureId></parentImage>
</eCitation>"""


def test_openi_tgz_archive(tmp_path):
    docs = {
        "ecgen-radiology/1.xml": OPENI_XML.format(n=1, findings="The lungs are clear.", impression="Normal chest.", mesh="normal"),
        "ecgen-radiology/2.xml": OPENI_XML.format(n=2, findings="", impression="Small left effusion.", mesh="Pleural Effusion/left"),
        "ecgen-radiology/3.xml": OPENI_XML.format(n=3, findings="", impression="", mesh="normal"),
        "ecgen-radiology/4.xml": "<eCitation><unclosed>",
    }
    archive = tmp_path / "NLMCXR_reports.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in docs.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.warns(UserWarning, match="skipped 2"):
        samples = load_openi(archive)
    assert [s.id for s in samples] == ["CXR1", "CXR2"]
    assert samples[0].findings == "The lungs are clear." and samples[0].impression == "Normal chest."
    assert samples[1].report == "Small left effusion."  # no FINDINGS: falls back to IMPRESSION
    assert samples[1].meta["mesh"] == ["Pleural Effusion/left"]
    with pytest.warns(UserWarning):
        both = load_openi(tmp_path / "NLMCXR_reports.tgz", target="both", strict=False)
    with pytest.raises(DataError, match="CXR3"):
        load_openi(tmp_path / "NLMCXR_reports.tgz", strict=True)
    assert both[0].report == "The lungs are clear. Normal chest."
    # with an image folder the parentImage ids become paths
    root = tmp_path / "NLMCXR_png"
    for n in (1, 2):
        for k in (1, 2):
            _png(root / f"CXR{n}_IM-0001-{k}001.png")
    with pytest.warns(UserWarning):
        with_images = load_openi(archive, image_root=root, views="per_image")
    assert len(with_images) == 4 and with_images[0].images[0].endswith("CXR1_IM-0001-1001.png")


# ---- CheXpert Plus CSV and generic records ------------------------------------------------------


def test_chexpert_plus_csv_groups_images_by_study(tmp_path):
    for p in ("train/p1/s1/view1_frontal.jpg", "train/p1/s1/view2_lateral.jpg", "train/p2/s1/view1_frontal.jpg"):
        _png(tmp_path / p)
    rows = [
        "path_to_image,frontal_lateral,deid_patient_id,patient_report_date_order,section_findings,section_impression,split",
        "train/p1/s1/view1_frontal.jpg,Frontal,p1,1,Heart is enlarged.,Cardiomegaly.,train",
        "train/p1/s1/view2_lateral.jpg,Lateral,p1,1,Heart is enlarged.,Cardiomegaly.,train",
        "train/p2/s1/view1_frontal.jpg,Frontal,p2,1,,No acute process.,train",
        "valid/p3/s1/view1_frontal.jpg,Frontal,p3,1,Clear.,Normal.,valid",
    ]
    path = tmp_path / "df_chexpert_plus.csv"
    path.write_text("\n".join(rows) + "\n")
    samples = load_chexpert_plus(path, views="frontal")
    assert [s.id for s in samples] == ["p1_1", "p2_1"]
    assert samples[0].images[0].endswith("view1_frontal.jpg") and samples[0].report == "Heart is enlarged."
    assert samples[1].report == "No acute process."
    assert len(load_chexpert_plus(path, views="all")[0].images) == 2
    with pytest.warns(UserWarning, match="missing image"):
        assert load_chexpert_plus(path, split="val") == []


def test_generic_jsonl_and_csv(tmp_path):
    _png(tmp_path / "x.png")
    jl = tmp_path / "data.jsonl"
    jl.write_text(json.dumps({"id": 1, "images": ["x.png"], "report": "FINDINGS: Clear. IMPRESSION: Normal.",
                              "labels": {"No Finding": "positive"}}) + "\n")
    s = load_records(jl)[0]
    assert (s.findings, s.impression, s.report) == ("Clear.", "Normal.", "Clear. Normal.")
    assert s.labels == {"No Finding": "positive"} and s.to_dict()["id"] == "1"
    cs = tmp_path / "data.csv"
    cs.write_text("id,images,report\n7,x.png;x.png,Cardiomegaly.\n")
    assert load_records(cs)[0].images == [str(tmp_path / "x.png")] * 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"images": []}\n')
    with pytest.raises(InputError, match="line 1: missing 'id'"):
        load_records(bad)


def test_prepare_images_writes_a_resumable_resized_cache_loaders_read(tiny_bench, tmp_path, capsys):
    """`radrl prepare-images`: every image at <= max_pixels under the same relative path, read back
    through data.options.image_root; a rerun keeps finished files; another cap is refused."""
    from PIL import Image

    from radrl.cli import main
    from radrl.data.registry import load_dataset

    cache = tmp_path / "cache"
    assert main(["prepare-images", "--data", f"synthetic:{tiny_bench}", "--max-pixels", "12544", "-o", str(cache),
                 "--workers", "1"]) == 0
    manifest = json.loads((cache / "prepare_images.json").read_text())
    assert manifest["n_images"] == 52 and manifest["n_skipped"] == 0  # 40 + 4 + 8 studies, one film each
    original = load_dataset("synthetic", tiny_bench, split="val")
    cached = load_dataset("synthetic", tiny_bench, split="val", image_root=str(cache))
    assert [s.id for s in cached] == [s.id for s in original]
    for a, b in zip(original, cached):
        with Image.open(a.images[0]) as big, Image.open(b.images[0]) as small:
            assert big.size == (224, 224) and small.size == (112, 112) and small.mode == big.mode == "L"
    first = Path(cached[0].images[0]).stat().st_mtime_ns
    assert main(["prepare-images", "--data", f"synthetic:{tiny_bench}", "--max-pixels", "12544", "-o", str(cache),
                 "--workers", "1"]) == 0
    assert Path(cached[0].images[0]).stat().st_mtime_ns == first  # resumed: not written again
    assert main(["prepare-images", "--data", f"synthetic:{tiny_bench}", "--max-pixels", "50000", "-o", str(cache)]) == 2
    assert "prepared with max_pixels 12544" in capsys.readouterr().err
    assert main(["prepare-images", "--data", f"synthetic:{tiny_bench}", "--max-pixels", "50000", "-o",
                 str(tiny_bench / "images" / "cache")]) == 2  # never into the dataset's own images
    # a broken image is skipped and counted (records loader, image root beside the file)
    root = tmp_path / "records"
    root.mkdir()
    Image.new("L", (300, 200), 90).save(root / "a.png")
    (root / "b.png").write_bytes(b"")
    rows = root / "r.jsonl"
    rows.write_text("".join(json.dumps({"id": i, "image": f"{i}.png", "report": "Clear."}) + "\n" for i in "ab"))
    assert main(["prepare-images", "--data", f"records:{rows}", "--max-pixels", "6000", "-o",
                 str(tmp_path / "c2"), "--workers", "1"]) == 0
    manifest = json.loads((tmp_path / "c2" / "prepare_images.json").read_text())
    assert manifest["n_skipped"] == 1 and "empty image file" in manifest["skipped"]
    with Image.open(tmp_path / "c2" / "a.png") as im:
        assert im.size == (94, 63) and im.width * im.height <= 6000  # aspect ratio kept


def test_chexpert_plus_reads_pngs_where_the_csv_says_jpg(tmp_path):
    """Some CheXpert Plus releases ship PNGs under the CSV's .jpg names."""
    (tmp_path / "train" / "patient1" / "study1").mkdir(parents=True)
    Image.new("L", (32, 32), 100).save(tmp_path / "train" / "patient1" / "study1" / "view1_frontal.png")
    csv_path = tmp_path / "df_chexpert_plus.csv"
    csv_path.write_text("path_to_image,frontal_lateral,section_findings,section_impression,deid_patient_id,"
                        "patient_report_date_order,split\n"
                        "train/patient1/study1/view1_frontal.jpg,Frontal,Clear lungs.,Normal.,p1,1,train\n")
    (sample,) = load_chexpert_plus(csv_path)
    assert sample.images[0].endswith("view1_frontal.png")
