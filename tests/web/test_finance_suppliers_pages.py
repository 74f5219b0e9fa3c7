"""Finance's 供货商 pages: every supplier's rate, deposit and available balance; a rate changed with its history;
a deposit recorded once however often the form is sent; bad input shown at its field, changing nothing."""

import re

from kameng.ledger.models import CommissionRateChange, Journal
from kameng.ledger.services import Accounts, Line, journal_post
from kameng.ledger.supplier_terms import commission_rate_of, deposit_of


def _page(client, supplier) -> str:
    return client.get(f"/finance/suppliers/{supplier.id}/").content.decode()


def _key(html: str) -> str:
    return re.search(r'name="key" value="([^"]+)"', html).group(1)


def test_the_list_shows_each_suppliers_rate_deposit_and_available(client_as, make_user, supplier):
    finance = make_user("finance")
    other = make_user("supplier")
    journal_post(reference="t:matured", kind="supplier_matured",
                 lines=[Line(Accounts.payable(supplier.id), 1234), Line(Accounts.available(supplier.id), -1234)])
    client = client_as(finance)
    client.post(f"/finance/suppliers/{supplier.id}/", {"action": "rate", "rate": "7.5", "note": ""})
    client.post(f"/finance/suppliers/{supplier.id}/", {"action": "deposit", "amount": "300", "note": "",
                                                       "key": "k1", "confirmed": "1"})
    html = client.get("/finance/suppliers/").content.decode()
    row = html.split(f'data-supplier="{supplier.id}"')[1].split("</tr>")[0]
    assert supplier.username in row and "7.5%" in row and "¥300.00" in row and "¥12.34" in row
    other_row = html.split(f'data-supplier="{other.id}"')[1].split("</tr>")[0]
    assert "5%" in other_row and other_row.count("¥0.00") == 2  # the default rate, nothing lodged
    assert f'href="/finance/suppliers/{supplier.id}/"' in html


def test_finance_changes_the_rate_and_the_history_says_who_when_and_why(client_as, make_user, supplier):
    finance = make_user("finance")
    client = client_as(finance)
    answer = client.post(f"/finance/suppliers/{supplier.id}/",
                         {"action": "rate", "rate": "5.25", "note": "年度协议"}, follow=True)
    assert str(commission_rate_of(supplier.id)) == "0.0525"
    html = answer.content.decode()
    assert "5.25%" in html and "年度协议" in html and finance.username in html
    assert "5% → 5.25%" in html
    change = CommissionRateChange.objects.get(supplier=supplier)
    assert change.by == finance and change.note == "年度协议"


def test_a_bad_rate_is_shown_at_its_field_and_changes_nothing(client_as, make_user, supplier):
    client = client_as(make_user("finance"))
    for bad in ("51", "-1", "abc", "5.255", "", "NaN", "1e999999", "1e-999999"):
        answer = client.post(f"/finance/suppliers/{supplier.id}/", {"action": "rate", "rate": bad, "note": "x"})
        assert answer.status_code == 400, bad
        html = answer.content.decode()
        assert 'id="rate-error"' in html and "0 到 50" in html, bad
        assert "INVALID_RATE" not in html
    assert not CommissionRateChange.objects.exists()
    assert str(commission_rate_of(supplier.id)) == "0.05"


def test_a_deposit_asks_first_then_a_double_submit_records_it_once(client_as, make_user, supplier):
    client = client_as(make_user("finance"))
    key = _key(_page(client, supplier))
    form = {"action": "deposit", "amount": "5000", "note": "银行转账", "key": key}
    asked = client.post(f"/finance/suppliers/{supplier.id}/", form)
    assert asked.status_code == 200 and 'id="confirm-step"' in asked.content.decode()
    assert "5000" in asked.content.decode() and deposit_of(supplier.id).fen == 0  # nothing yet
    for _ in range(2):  # the confirmation sent twice (a double click, a resend)
        done = client.post(f"/finance/suppliers/{supplier.id}/", {**form, "confirmed": "1"}, follow=True)
        assert done.status_code == 200 and "¥5000.00" in done.content.decode()
    assert deposit_of(supplier.id).fen == 500_000
    assert Journal.objects.filter(kind="deposit_lodged").count() == 1
    # The next form shown carries a new key: a second deposit is a deliberate, separate one.
    assert _key(_page(client, supplier)) != key


def test_a_bad_amount_is_shown_at_its_field_before_any_confirmation(client_as, make_user, supplier):
    client = client_as(make_user("finance"))
    for bad in ("0", "-5", "1.001", "abc", "", "Infinity", "1e30", "100000000.01"):
        answer = client.post(f"/finance/suppliers/{supplier.id}/",
                             {"action": "deposit", "amount": bad, "note": "", "key": f"k-{bad}", "confirmed": "1"})
        assert answer.status_code == 400, bad
        html = answer.content.decode()
        assert 'id="amount-error"' in html and "confirm-step" not in html and "INVALID_AMOUNT" not in html, bad
    assert not Journal.objects.filter(kind="deposit_lodged").exists()


def test_a_reused_key_with_another_amount_records_nothing_more(client_as, make_user, supplier):
    client = client_as(make_user("finance"))
    form = {"action": "deposit", "note": "", "key": "same", "confirmed": "1"}
    client.post(f"/finance/suppliers/{supplier.id}/", {**form, "amount": "100"})
    answer = client.post(f"/finance/suppliers/{supplier.id}/", {**form, "amount": "200"})
    assert answer.status_code == 400 and "没有再次记录" in answer.content.decode()
    assert deposit_of(supplier.id).fen == 10_000


def test_only_finance_opens_the_pages_or_sends_the_forms(client_as, make_user, supplier):
    pages = ["/finance/suppliers/", f"/finance/suppliers/{supplier.id}/"]
    for path in pages:
        assert client_as().get(path)["Location"].startswith("/login/"), path
        for role in ("buyer", "supplier", "reviewer", "senior_reviewer", "admin"):
            assert client_as(make_user(role)).get(path).status_code == 403, (path, role)
    for role in ("buyer", "supplier", "reviewer", "admin"):
        client = client_as(make_user(role))
        rate = client.post(pages[1], {"action": "rate", "rate": "9", "note": ""})
        deposit = client.post(pages[1], {"action": "deposit", "amount": "9", "key": "r", "confirmed": "1"})
        assert rate.status_code == deposit.status_code == 403, role
    assert str(commission_rate_of(supplier.id)) == "0.05" and deposit_of(supplier.id).fen == 0


def test_a_page_for_someone_who_is_not_a_supplier_is_not_found(client_as, make_user):
    client = client_as(make_user("finance"))
    assert client.get(f"/finance/suppliers/{make_user('buyer').id}/").status_code == 404
    assert client.get("/finance/suppliers/999999/").status_code == 404
