"""Chunks written for the ranking and answering tests: a product with a price and a date, a partnership, a lab with
names and a figure, a flattened table row."""

from haystack import Document

TABLET = Document(
    content="The new T Tablet is a robust device for everyday use. Without a mobile plan, the T Tablet costs a "
    "one-time fee of 219 euros. It will be available from August 24. Customers praise its large display.",
    meta={"file_path": "t.txt", "year": 2023, "dates": ["2023-08"]},
)

NETFLIX = Document(
    content="Deutsche Telekom and Netflix announce a partnership: MagentaTV customers get Netflix included. "
    "The offer starts in Germany in spring.",
    meta={"file_path": "n.txt", "year": 2022, "dates": ["2022-03"]},
)

QUANTUM = Document(
    content="Deutsche Telekom opened its Quantum Lab in Berlin. It is connected to over 2,000 km of fiber. "
    "Partners include Qualcomm and IQM.",
    meta={"file_path": "q.txt", "year": 2024, "dates": ["2024-06-10"]},
)

TABLE = Document(
    content="Net revenue | 27,800 | 28,400 | 2.2 | 26,900 | 110,000 Net revenue in the third quarter of 2023 "
    "| rose | by | 2.2 percent. The group's net revenue in the third quarter rose to 27.8 billion euros.",
    meta={"file_path": "r.txt", "year": 2023},
)
