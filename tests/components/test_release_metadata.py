"""ReleaseMetadataExtractor on small texts: title, dates and year."""

from haystack import Document

from components.release_metadata import ReleaseMetadataExtractor


def test_metadata_title_dates_and_year():
    extractor = ReleaseMetadataExtractor(max_title_words=8, latest_year=2025)
    headline = Document(content="New cloud region in Barcelona\n\nOn May 16, 2023 T-Systems opened it. In March 2022 it was planned.")
    lead = Document(content="Deutsche Telekom has installed a private 5G campus network for a broadcaster in Cologne. More text by 2030.")
    docs = extractor.run(documents=[headline, lead])["documents"]
    assert docs[0].meta["title"] == "New cloud region in Barcelona"
    assert docs[0].meta["dates"] == ["2023-05-16", "2022-03"]
    assert docs[0].meta["year"] == 2023
    assert docs[1].meta["title"] == "Deutsche Telekom has installed a private 5G campus …"
    assert docs[1].meta["dates"] == [] and "year" not in docs[1].meta  # "by 2030" is a goal, not a date


def test_metadata_day_first_dates_and_plain_years():
    docs = ReleaseMetadataExtractor(latest_year=2025).run(
        documents=[Document(content="Digital X on 21st September 2023. Results for 2024 were strong; targets until 2027.")]
    )["documents"]
    assert docs[0].meta["dates"] == ["2023-09-21"] and docs[0].meta["year"] == 2023
