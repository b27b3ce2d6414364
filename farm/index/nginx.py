"""An nginx server block that serves the rendered page tree and the blob store directly (docs/deployment.md)."""

from __future__ import annotations

from pathlib import Path

TEMPLATE = """\
# wasmfarm: static read path in nginx, everything else proxied to `wasmfarm serve`.
# Content negotiation is by substring of Accept: clients asking for PEP 691 JSON get JSON, all others HTML.
map $http_accept $wasmfarm_format {{
    default html;
    "~application/vnd\\.pypi\\.simple\\.(v1|latest)\\+json" json;
}}

server {{
    listen {listen};
    client_max_body_size 101m;
    # Pages are replaced by rename; cached descriptors are revalidated within a second.
    open_file_cache max=20000 inactive=60s;
    open_file_cache_valid 1s;

    location ~ ^/(simple|r/[^/]+/simple)/([a-z0-9-]*/)?$ {{
        root {www};
        types {{ application/vnd.pypi.simple.v1+json json; text/html html; }}
        gzip_static on;
        add_header Vary "Accept, Accept-Encoding" always;
        add_header Access-Control-Allow-Origin "*" always;
        add_header Cache-Control "max-age=60, must-revalidate" always;
        # Pages that are not there (unknown or non-normalised names) go to wasmfarm, which redirects or explains.
        try_files ${{uri}}index.$wasmfarm_format @wasmfarm;
    }}

    location /files/ {{
        root {blobs};
        rewrite "^/files/([0-9a-f]{{2}})/([0-9a-f]{{64}})/[^/]+\\.metadata$" /$1/$2.metadata break;
        rewrite "^/files/([0-9a-f]{{2}})/([0-9a-f]{{64}})/[^/]+$" /$1/$2 break;
        types {{ }}
        default_type application/octet-stream;
        add_header Access-Control-Allow-Origin "*" always;
        add_header Cache-Control "public, max-age=31536000, immutable" always;
    }}

    location / {{
        proxy_pass {backend};
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-For $remote_addr;
    }}

    location @wasmfarm {{
        proxy_pass {backend};
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-For $remote_addr;
    }}
}}
"""


def nginx_config_text(www: Path, blobs: Path, listen: str, backend: str) -> str:
    return TEMPLATE.format(listen=listen, www=www, blobs=blobs, backend=backend)
