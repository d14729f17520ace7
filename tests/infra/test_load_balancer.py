"""Load balancer: HTTP->HTTPS redirect with a certificate, forward without; target group."""

from __future__ import annotations

from infra.tools.mocks import mock_id, mock_physical_name
from tests.infra.conftest import subnet_ids

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
LISTENER = "aws:lb/listener:Listener"


def listeners(run) -> dict[int, dict]:
    return {int(r.inputs["port"]): r.plain_inputs() for r in run.of_type(LISTENER)}


def test_with_certificate_http_redirects_to_https_and_https_forwards(prod):
    by_port = listeners(prod)
    assert set(by_port) == {80, 443}
    (redirect,) = by_port[80]["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}
    https = by_port[443]
    assert https["protocol"] == "HTTPS"
    assert https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13-")
    assert https["certificateArn"].startswith("arn:aws:acm:")
    (forward,) = https["defaultActions"]
    assert forward["type"] == "forward"
    assert forward["targetGroupArn"] == (
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/"
        f"{mock_physical_name(prod.named('web-tg'))}/0123456789abcdef"
    )
    assert prod.outputs["serviceUrl"] == "https://api.example.com"


def test_without_certificate_http_forwards_and_there_is_no_https_listener(staging):
    by_port = listeners(staging)
    assert set(by_port) == {80}
    (forward,) = by_port[80]["defaultActions"]
    assert forward["type"] == "forward"
    assert staging.outputs["serviceUrl"].startswith("http://web-alb-")


def test_adding_a_certificate_to_a_stack_turns_on_the_redirect(stack_run):
    run = stack_run("staging", certificateArn=CERT, domainName="staging.example.com")
    by_port = listeners(run)
    assert set(by_port) == {80, 443}
    assert by_port[80]["defaultActions"][0]["type"] == "redirect"
    assert by_port[443]["certificateArn"] == CERT
    assert run.outputs["serviceUrl"] == "https://staging.example.com"


def test_alb_is_public_drops_invalid_headers_and_sits_in_public_subnets(any_stack):
    _, run = any_stack
    alb = run.named("web-alb").inputs
    assert alb["dropInvalidHeaderFields"] is True
    assert alb["internal"] is False and alb["loadBalancerType"] == "application"
    assert alb["securityGroups"] == [
        mock_id(run.named("network-alb", "aws:ec2/securityGroup:SecurityGroup"))
    ]
    assert alb["subnets"] == subnet_ids(run, "public")


def test_target_group_checks_health_on_8000_and_drains_in_30s(any_stack):
    _, run = any_stack
    tg = run.named("web-tg").inputs
    assert (tg["port"], tg["protocol"], tg["targetType"]) == (8000, "HTTP", "ip")
    assert tg["deregistrationDelay"] == 30
    assert tg["healthCheck"]["path"] == "/health"
    assert tg["healthCheck"]["matcher"] == "200"
