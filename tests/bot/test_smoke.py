from tests.conftest import ALICE, TRIAGE


def test_quick_named_signal_reaches_triage(running_app):
    reply = running_app.sender.command(user=ALICE, text="drift fraud-model precision fell to 0.78")
    assert reply.status == 200, reply.text
    assert "SIG-1" in reply.json()["text"]
    running_app.settle()
    calls = running_app.standin.wait_for("chat.postMessage")
    assert calls[0].params["channel"] == TRIAGE
    assert "<@UALICE0001>" in str(calls[0].params["blocks"])
