"""Accounts: sign-in, the generic error, throttling, activation and session rotation."""
import pytest

from benefits.auth import service as auth
from benefits.auth.service import GENERIC_LOGIN_ERROR, InvalidCredentials
from benefits.errors import Conflict, TooManyRequests, ValidationError
from benefits.members import service as members
from tests import factories


def test_unknown_account_and_wrong_password_raise_the_same_error(app):
    tree = factories.org_tree()
    factories.admin(tree["bozhou"], "city_admin")
    with pytest.raises(InvalidCredentials) as unknown:
        auth.authenticate("nobody", "password-123", "1.2.3.4")
    with pytest.raises(InvalidCredentials) as wrong:
        auth.authenticate("city_admin", "not-the-password", "1.2.3.4")
    assert unknown.value.message == wrong.value.message == GENERIC_LOGIN_ERROR
    assert unknown.value.code == wrong.value.code == "invalid_credentials"
    assert auth.authenticate("city_admin", "password-123", "1.2.3.4").last_login_at is not None


def test_sixth_attempt_is_refused_and_success_forgives(app):
    tree = factories.org_tree()
    factories.admin(tree["bozhou"], "city_admin")
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            auth.authenticate("city_admin", "wrong", "5.6.7.8")
    auth.authenticate("city_admin", "password-123", "5.6.7.8")  # 5th: allowed, clears the account
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            auth.authenticate("city_admin", "wrong", "5.6.7.9")
    with pytest.raises(TooManyRequests):
        auth.authenticate("city_admin", "password-123", "5.6.7.9")


def test_activation_needs_matching_proof_and_happens_once(app):
    tree = factories.org_tree()
    m = factories.member(tree["gujing"])
    with pytest.raises(ValidationError):
        auth.activate_member(id_number=m.id_number, card_number=m.current_card.number, password="short", address="a")
    with pytest.raises(InvalidCredentials):
        auth.activate_member(id_number=m.id_number, card_number="6231999999999999", password="long-enough", address="a")
    user = auth.activate_member(id_number=m.id_number.lower(), card_number=m.current_card.number,
                                password="long-enough", address="a")
    assert user.username == m.id_number and user.role == "member"
    with pytest.raises(Conflict):
        auth.activate_member(id_number=m.id_number, card_number=m.current_card.number, password="long-enough", address="a")


def test_rotation_and_leaving_end_sessions(app):
    tree = factories.org_tree()
    user = factories.member_user(tree["gujing"])
    old_id = user.get_id()
    assert auth.load_user(old_id) is user
    auth.rotate_sessions(user)
    assert auth.load_user(old_id) is None and auth.load_user(user.get_id()) is user
    current = user.get_id()
    members.record_leave(None, user.member)
    assert auth.load_user(current) is None and auth.load_user(user.get_id()) is None
    with pytest.raises(InvalidCredentials):
        auth.authenticate(user.username, factories.PASSWORD, "x")
    members.record_rejoin(None, user.member)
    assert auth.authenticate(user.username, factories.PASSWORD, "x") is user


def test_load_user_rejects_garbage(app):
    assert auth.load_user("not-an-id") is None and auth.load_user("5") is None and auth.load_user("abc:def") is None
