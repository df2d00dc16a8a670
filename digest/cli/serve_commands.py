"""`digest serve`: unsubscribe, sign-up, archive, feed and health pages (see digest.serve)."""

from __future__ import annotations

import signal
from types import FrameType

import click

from digest.cli import AppContext, cli, pass_app


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on (0 picks a free one).")
@click.option("--proxy-fix", is_flag=True, help="Trust X-Forwarded-For/-Proto/-Host from one reverse-proxy hop (as [serve] trust_proxy = true).")
@pass_app
def serve_command(app: AppContext, host: str, port: int, proxy_fix: bool) -> None:
    """Serve one-click unsubscribe (POST /unsubscribe/TOKEN), sign-up with double opt-in
    (/subscribe, /confirm/TOKEN; [signup]), the edition archive (GET /, /editions/ID), its Atom
    feed (GET /feed.xml) and GET /healthz. Needs DIGEST_SECRET, the secret that signed the links.

    Put it behind a reverse proxy with HTTPS at [newsletter] base_url and give --proxy-fix (or
    [serve] trust_proxy = true) so limits count real clients (README: "Sign-up and archive");
    a path in base_url is served as the prefix.
    """
    from digest.serve import create_app, make_server, signup_desk  # Flask loads only when serving

    config = app.config
    web = create_app(config)
    server = make_server(
        web, host, port, config.newsletter.base_url,
        trust_proxy=proxy_fix or config.serve.trust_proxy, max_request_bytes=config.serve.max_request_bytes,
    )
    bound_host, bound_port = server.effective_host, server.effective_port
    click.echo(f"serving on http://{bound_host}:{bound_port} for {config.newsletter.base_url} (Ctrl+C to stop)", err=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # systemctl stop: stop as Ctrl+C does
    try:
        server.run()  # returns on Ctrl+C
    finally:
        signal.signal(signal.SIGTERM, previous)
        signup_desk(web).close()  # mail the confirmations already promised
    click.echo("stopped", err=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
