"""Plain-text summary of an evaluation, for the command line."""


def status_words(status: str) -> str:
    """A requirement's status in the words people read: ``evidence_missing`` -> ``evidence missing``
    (the PDF's words too); the API and pack.json keep the token."""
    return status.replace("_", " ")


def evaluation_summary_lines(evaluation) -> list[str]:
    c = evaluation.counts
    lines = [
        f"evaluation #{evaluation.pk} ({evaluation.state}) with policy v{evaluation.policy_version.version}: "
        f"{c.get('credentials', 0)} credentials, {c.get('identities', 0)} identities, {c.get('sources', 0)} sources; "
        f"{c.get('failed', 0)} failed, {c.get('excepted', 0)} excepted, {c.get('not_assessed', 0)} not assessed; {c.get('seconds')} s"
    ]
    for rs in evaluation.requirement_statuses.select_related("requirement").order_by("requirement__position"):
        lines.append(
            f"  {rs.requirement.ref:<9} {status_words(rs.status):<16} {rs.failed:>6} failed / {rs.population:>7} tested  {rs.requirement.title[:60]}"
        )
    return lines
