import pytest

from radrl import schema as S


def test_observations_in_chexbert_head_order():
    assert S.OBSERVATIONS[0] == "Enlarged Cardiomediastinum"
    assert S.OBSERVATIONS[12] == "Support Devices"
    assert S.OBSERVATIONS[13] == "No Finding"
    assert len(S.OBSERVATIONS) == 14 and len(S.FINDINGS) == 13


def test_chexbert_class_round_trip():
    labels = S.normalize_labels({"Cardiomegaly": "positive", "Edema": "negative", "Atelectasis": "uncertain"})
    classes = S.to_chexbert_classes(labels)
    assert classes[1] == 1 and classes[4] == 2 and classes[7] == 3 and classes[0] == 0
    assert S.from_chexbert_classes(classes) == labels


def test_binary_uncertain_rule():
    labels = {"Cardiomegaly": "positive", "Edema": "uncertain", "Atelectasis": "negative"}
    assert S.to_binary(labels)[1:8] == [1, 0, 0, 0, 0, 0, 0]
    assert S.to_binary(labels, uncertain="positive")[4] == 1
    with pytest.raises(ValueError):
        S.to_binary(labels, uncertain="maybe")


def test_mccs_vector_signs_and_excludes_no_finding():
    labels = S.normalize_labels({"Cardiomegaly": "positive", "Edema": "uncertain", "Atelectasis": "negative",
                                 "No Finding": "positive"})
    z = S.to_mccs_vector(labels)
    assert len(z) == 13
    assert z[1] == 1 and z[4] == 1 and z[7] == -1 and z[0] == 0


def test_csv_cells_and_validation():
    assert [S.from_chexpert_csv_cell(c) for c in ("1.0", "0.0", "-1.0", "")] == [
        "positive", "negative", "uncertain", "blank"]
    with pytest.raises(ValueError):
        S.from_chexpert_csv_cell("2.0")
    with pytest.raises(ValueError):
        S.normalize_labels({"Cardiomegally": "positive"})
    with pytest.raises(ValueError):
        S.normalize_labels({"Cardiomegaly": "yes"})
