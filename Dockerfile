# syntax=docker/dockerfile:1
# The Capacity server. Build: docker build -t capacity . ; run: see docs/operations.md ("Running in
# containers") and compose.yaml (PostgreSQL, two nodes, TLS at a proxy).

# Build stage: the SDK restores and publishes the server alone (framework-dependent, Release).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/ src/
RUN dotnet publish src/Capacity.Server/Capacity.Server.csproj -c Release -o /app

# Run stage: the ASP.NET Core runtime and the published server, nothing else.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./

# The data directory holds the SQLite database and the generated admin key: a volume, so they
# outlive the container, owned by the unprivileged user the server runs as ($APP_UID, "app", set by
# the base image).
ENV ASPNETCORE_URLS=http://+:8080 \
    Storage__DataDirectory=/var/lib/capacity \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
RUN mkdir -p /var/lib/capacity && chown "$APP_UID" /var/lib/capacity
VOLUME /var/lib/capacity
EXPOSE 8080
USER $APP_UID

# The image has no curl: the server's own `health-check` command asks /healthz of the server
# beside it (HealthProbe.cs) and exits 0 or 1.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["dotnet", "/app/Capacity.Server.dll", "health-check"]

# SIGTERM (docker stop) ends live streams at once and lets requests in flight commit; a failed start
# exits with a code that says why (README, "Starting and stopping").
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "/app/Capacity.Server.dll"]
