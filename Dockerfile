# The `lstp` command in a container: one image for middles and ends (docker-compose.yml).
# Build: the SDK publishes src/Lstp.Cli (framework-dependent, precompiled for the build's architecture: see its
# csproj). Run: the ASP.NET Core runtime, non-root.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props ./
COPY src/ src/
RUN dotnet publish src/Lstp.Cli -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
RUN ln -s /app/lstp /usr/local/bin/lstp
USER $APP_UID
# 7700: where ends (and other middles) dial in. 7780: the admin endpoint (loopback unless configured).
EXPOSE 7700
ENTRYPOINT ["lstp"]
