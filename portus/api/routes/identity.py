"""Project lookups the openstack CLI makes before quota calls, answered without Keystone.

``openstack loadbalancer quota set <project>`` resolves the project through the identity
service, which with ``--os-endpoint`` is this endpoint. Under ``noauth`` there is no project
registry, so any project id names itself. Under ``keystone`` the CLI talks to the real Keystone
and never comes here; these routes then answer 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from portus.api.deps import services
from portus.service.common import Services
from portus.service.errors import NotFound

router = APIRouter(tags=["identity"], include_in_schema=False)


def _project(project_id: str) -> dict[str, object]:
    return {"id": project_id, "name": project_id, "domain_id": "default", "enabled": True}


@router.get("/projects/{project_id}")
@router.get("/v3/projects/{project_id}")
def show_project(project_id: str, svc: Services = Depends(services)) -> JSONResponse:
    if svc.settings.auth_strategy != "noauth":
        raise NotFound("Project", project_id)
    return JSONResponse({"project": _project(project_id)})


@router.get("/projects")
@router.get("/v3/projects")
def list_projects(request: Request, svc: Services = Depends(services)) -> JSONResponse:
    name = request.query_params.get("name")
    if svc.settings.auth_strategy != "noauth" or not name:
        return JSONResponse({"projects": []})
    return JSONResponse({"projects": [_project(name)]})
