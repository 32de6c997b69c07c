"""results: a Report survives the trip through its JSON form (report.json, the plot worker's request)."""

import json

from quantrack.report.document import Report


def test_a_report_round_trips_through_json(synthetic_report):
    again = Report.from_dict(json.loads(json.dumps(synthetic_report.to_dict())))
    assert again == synthetic_report
    assert again.variants[1].latency[0].speedup == synthetic_report.variants[1].latency[0].speedup
