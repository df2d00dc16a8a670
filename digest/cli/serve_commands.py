"""`digest serve`: the unsubscribe, archive and health pages (see digest.serve)."""

from __future__ import annotations

import click

from digest.cli import AppContext, cli, pass_app


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on (0 picks a free one).")
@pass_app
def serve_command(app: AppContext, host: str, port: int) -> None:
    """Serve one-click unsubscribe (POST /unsubscribe/TOKEN), the edition archive (GET /,
    /editions/ID) and GET /healthz. Needs DIGEST_SECRET, the secret that signed the links.

    Put it behind a reverse proxy with HTTPS at [newsletter] base_url (README: "Running the
    unsubscribe server"); a path in base_url is served as the prefix.
    """
    from digest.serve import create_app, make_server  # Flask loads only when serving

    config = app.config
    server = make_server(create_app(config), host, port, config.newsletter.base_url)
    bound_host, bound_port = server.effective_host, server.effective_port
    click.echo(f"serving on http://{bound_host}:{bound_port} for {config.newsletter.base_url} (Ctrl+C to stop)", err=True)
    server.run()  # returns on Ctrl+C
    click.echo("stopped", err=True)
