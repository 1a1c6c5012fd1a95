using System.Text.Json.Nodes;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Capacity.Server.Docs;

/// <summary>
/// The OpenAPI 3.1 document at <c>/openapi/v1.json</c>, generated from the endpoints, and Swagger UI
/// at <c>/docs</c>. What the endpoints cannot say about themselves (the bearer scheme, the problem
/// fields, request examples) is added here, in one place.
/// </summary>
internal static class ApiDocs
{
    public static void AddApiDocs(this IServiceCollection services) =>
        services.AddOpenApi("v1", options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Capacity",
                    Version = "v1",
                    Description = "Ticket capacity under concurrent load: pools (own, capped, shared, unlimited), holds, "
                        + "confirmations, releases, expiry, allocations (tickets set aside), price locks, exactly-once retries with Idempotency-Key, and tenant isolation. "
                        + "Every error is RFC 9457 application/problem+json with a stable `code`.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "A tenant API key, a tenant JWT (HS256, claims tenant_id and exp), or on /admin routes the admin key.",
                };
                document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] }];
                return Task.CompletedTask;
            });
            options.AddSchemaTransformer((schema, context, _) =>
            {
                // A date-time read by hand (Instant) is still a date-time, or null.
                if (context.JsonPropertyInfo?.CustomConverter is InstantConverter)
                {
                    schema.Type = JsonSchemaType.String | JsonSchemaType.Null;
                    schema.Format = "date-time";
                    schema.Description = "RFC 3339 with an offset (Z or ±hh:mm).";
                }

                // A decimal read by hand (ExactDecimal) is still a number.
                if (context.JsonPropertyInfo?.CustomConverter is ExactDecimalConverter or ExactNullableDecimalConverter)
                {
                    schema.Type = context.JsonPropertyInfo.CustomConverter is ExactNullableDecimalConverter ? JsonSchemaType.Number | JsonSchemaType.Null : JsonSchemaType.Number;
                }

                // Numbers are written as numbers: the generator's "or a string of digits" (from the
                // serializer's number handling) would make a generated client type every count as a union.
                if (schema.Type is { } type && (type & (JsonSchemaType.Integer | JsonSchemaType.Number)) != 0 && (type & JsonSchemaType.String) != 0)
                {
                    schema.Type = type & ~JsonSchemaType.String;
                    schema.Pattern = null;
                }

                // A string field with a closed set of values is an enum, so a generated client gets one.
                if (context.JsonPropertyInfo?.AttributeProvider?.GetCustomAttributes(typeof(OneOfAttribute), false) is [OneOfAttribute oneOf, ..])
                {
                    // JSON Schema checks an enum on its own, whatever the type allows: a nullable field's
                    // enum lists null too, or every answer where it is null fails a strict validator.
                    schema.Enum = [.. oneOf.Values.Select(v => (JsonNode)JsonValue.Create(v))];
                    if (schema.Type is { } nullable && (nullable & JsonSchemaType.Null) != 0)
                    {
                        schema.Enum.Add(null!);
                    }
                }

                if (context.JsonTypeInfo.Type == typeof(ProblemDetails))
                {
                    schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
                    schema.Properties["code"] = new OpenApiSchema
                    {
                        Description = "Stable error code, e.g. INSUFFICIENT_CAPACITY; branch on this. One of the catalog's codes (`GET /problems`), "
                            + "or HTTP_<status> for a status the framework answers by itself.",
                        AnyOf =
                        [
                            new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. ApiErrors.Kinds.Select(k => (JsonNode)JsonValue.Create(k.Code))] },
                            new OpenApiSchema { Type = JsonSchemaType.String, Pattern = "^HTTP_[0-9]{3}$" },
                        ],
                    };
                    schema.Properties["errors"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Description = "VALIDATION_ERROR only: each invalid field with its messages.",
                        AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                    };
                    schema.Properties["available_capacity"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Integer | JsonSchemaType.Null,
                        Description = "INSUFFICIENT_CAPACITY only: what is available now.",
                    };
                    schema.Properties["waitlist_demand"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Integer,
                        Description = "INSUFFICIENT_CAPACITY only, when a waiting list is owed units on the short pool: those units, which public holds cannot take.",
                    };
                    schema.Properties["shortfall"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Array,
                        Description = "RESERVATION_EXPIRED only, when a reclaim (`on_expired: reclaim`) is refused: each capacity that lacks the tickets (or the pool they share, when each fits alone and not all together), "
                            + "with what the hold asks of it and what it has available now.",
                        Items = new OpenApiSchema
                        {
                            Type = JsonSchemaType.Object,
                            Properties = new Dictionary<string, IOpenApiSchema>
                            {
                                ["capacity_id"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uuid" },
                                ["requested"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                                ["available"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                            },
                        },
                    };

                    // The members a refusal carries beyond the problem's own, by the codes that carry each.
                    foreach (var (name, kind, format, description) in new (string, JsonSchemaType, string?, string)[]
                    {
                        ("idle", JsonSchemaType.Integer, null, "ALLOCATION_INSUFFICIENT only: the allocation's idle tickets now."),
                        ("allocation_id", JsonSchemaType.String, "uuid", "ALLOCATION_CLOSED, ALLOCATION_INSUFFICIENT and ALLOCATION_BELOW_COMMITTED: the allocation refused."),
                        ("limit_id", JsonSchemaType.String, "uuid", "BUYER_LIMIT_EXCEEDED and BUYER_KEY_REQUIRED: the buyer limit that refused."),
                        ("used", JsonSchemaType.Integer, null, "BUYER_LIMIT_EXCEEDED only: what counts against the limit for the buyer over its capacities: tickets in active holds and sales, and units its waiting-list entries wait for."),
                        ("requested", JsonSchemaType.Integer, null, "BUYER_LIMIT_EXCEEDED only: the tickets the refused hold asked for on the limit's capacities."),
                        ("per_buyer_max", JsonSchemaType.Integer, null, "BUYER_LIMIT_EXCEEDED only: the limit's maximum per buyer."),
                        ("capacity_id", JsonSchemaType.String, "uuid", "SALE_NOT_OPEN and SALE_CLOSED: the capacity not on sale, which may be a pool the capacity named draws from; INSUFFICIENT_CAPACITY: the capacity or pool that is short; CAPACITY_INACTIVE: the capacity or pool that is inactive; WAITLIST_DISABLED: the capacity whose list is not open."),
                        ("closed_reason", JsonSchemaType.String, null, "CAPACITY_INACTIVE only, when its sold-out rule closed the capacity (an early tier after its sell-out, close_when_sold_out): sold_out."),
                        ("sale_starts_at", JsonSchemaType.String, "date-time", "SALE_NOT_OPEN only, when the capacity has a start: when its sale starts (past, when only the tier before it holds it back)."),
                        ("opens_after_sold_out_of", JsonSchemaType.String, "uuid", "SALE_NOT_OPEN only, on a tier: the capacity whose first sell-out opens it."),
                        ("sale_ends_at", JsonSchemaType.String, "date-time", "SALE_CLOSED only: when the capacity's sale ended."),
                        ("limit", JsonSchemaType.Integer, null, "TOO_MANY_CAPACITIES, TOO_MANY_KEYS, TOO_MANY_WEBHOOKS, TOO_MANY_STREAMS and TOO_MANY_LIVE_HOLDS: the bound reached."),
                    })
                    {
                        schema.Properties[name] = new OpenApiSchema { Type = kind, Format = format, Description = description };
                    }
                }

                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                var route = (context.Description.HttpMethod ?? "") + " /" + context.Description.RelativePath;
                operation.OperationId ??= OperationId(context.Description.HttpMethod ?? "GET", context.Description.RelativePath ?? "");

                // The document requires the bearer scheme everywhere; routes open to anyone (health,
                // metrics, the index, the error pages) say so with an empty requirement of their own.
                var access = context.Description.ActionDescriptor.EndpointMetadata.OfType<AccessMetadata>().LastOrDefault()?.Access ?? Access.Anonymous;
                if (access == Access.Anonymous)
                {
                    // /metrics is open unless Metrics:Key is set: no credential, or the bearer key.
                    operation.Security = route == "GET /metrics"
                        ? [new OpenApiSecurityRequirement(), new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", context.Document)] = [] }]
                        : [];
                }

                if (Examples.TryGetValue(route, out var example) && operation.RequestBody?.Content is { } content)
                {
                    foreach (var media in content.Values)
                    {
                        media.Example = JsonNode.Parse(example);
                    }
                }

                // Every paged list reads `after` and `limit` through ListPages or Paging, which answer 400
                // for a bad one. Said once here, of every operation that takes them, so that a new list
                // cannot leave it out.
                if (operation.Parameters?.Any(p => p.In == ParameterLocation.Query && p.Name is "after" or "limit") == true)
                {
                    operation.Responses ??= [];
                    operation.Responses.TryAdd("400", new OpenApiResponse
                    {
                        Description = "Bad Request",
                        Content = new Dictionary<string, OpenApiMediaType>
                        {
                            ["application/problem+json"] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(nameof(ProblemDetails), context.Document) },
                        },
                    });
                }

                if (context.Description.HttpMethod is "POST" or "PUT" or "PATCH" or "DELETE")
                {
                    // A read sent as a POST (check) changes nothing, so there is no effect to record with
                    // the key and no answer to replay; the key's format is still checked there, so that a
                    // client learns of a bad one before it relies on it on a write.
                    var readsOnly = context.Description.ActionDescriptor.EndpointMetadata.OfType<ReadsOnlyMetadata>().Any();
                    operation.Parameters ??= [];
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = "Idempotency-Key",
                        In = ParameterLocation.Header,
                        Required = false,
                        Description = readsOnly
                            ? $"1 to {Writes.MaxKeyLength} printable ASCII characters (400 otherwise), but not applied: this route changes nothing, so nothing is recorded "
                                + "and a repeat, or another body with the same key, is answered afresh."
                            : $"1 to {Writes.MaxKeyLength} printable ASCII characters. A repeat returns the first answer with Idempotent-Replayed: true and takes no second effect.",
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = Writes.MaxKeyLength },
                    });
                }

                return Task.CompletedTask;
            });
        });

    public static void MapApiDocs(this WebApplication app)
    {
        app.MapOpenApi("/openapi/{documentName}.json");
        // Branched off by path: in the main pipeline the UI's middleware ran on every API request,
        // matching its regexes and its file provider against the path, about 5 % of a read's CPU
        // (docs/performance.md).
        app.UseWhen(context => context.Request.Path.StartsWithSegments("/docs"), docs =>
        {
            // The UI's own redirect to its page names the request's Host header (an open redirect
            // for anyone who can set it, as the dashboard's was); this one answers with a path.
            docs.Use((context, next) =>
            {
                if (context.Request.Path.Value?.TrimEnd('/').Length == "/docs".Length)
                {
                    context.Response.Redirect("/docs/index.html" + context.Request.QueryString, permanent: true);
                    return Task.CompletedTask;
                }

                return next(context);
            });
            docs.UseSwaggerUI(options =>
            {
                options.RoutePrefix = "docs";
                options.SwaggerEndpoint("/openapi/v1.json", "Capacity v1");
                options.DocumentTitle = "Capacity API";
            });
        });
    }

    /// <summary>
    /// The operationId of a route that names none (<c>WithName</c>): the method and the route's words,
    /// <c>GET /events/{eventId}/capacity/stream</c> → <c>getEventsCapacityStream</c>, with "By" and the
    /// parameter when the route ends in one (<c>DELETE /limits/{id}</c> → <c>deleteLimitsById</c>). Made
    /// from the route alone, so it changes only when the route does: generated clients name their
    /// methods after it. <c>OpenApiOperationTests</c> keeps them unique.
    /// </summary>
    internal static string OperationId(string method, string relativePath)
    {
        var id = new System.Text.StringBuilder(method.ToLowerInvariant());
        var segments = relativePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0)
        {
            return id.Append("Index").ToString();
        }

        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            var isParameter = segment.StartsWith('{');
            if (isParameter && i < segments.Length - 1)
            {
                continue;
            }

            if (isParameter)
            {
                id.Append("By");
                segment = segment.Trim('{', '}').Split(':')[0];
            }

            foreach (var word in segment.Split('-', '_', '.'))
            {
                if (word.Length > 0)
                {
                    id.Append(char.ToUpperInvariant(word[0])).Append(word.AsSpan(1));
                }
            }
        }

        return id.ToString();
    }

    /// <summary>Request examples by "METHOD /route", shown in the document and in Swagger UI.</summary>
    private static readonly Dictionary<string, string> Examples = new(StringComparer.Ordinal)
    {
        ["POST /events/{eventId}/capacity"] = """{"section_name":"Adult","total_capacity":50,"parent_ids":["01a1fe6e-3555-735a-8b75-b740e2b5ae2f"],"mode":"capped"}""",
        ["PUT /capacity/{id}"] = """{"total_capacity":120,"is_active":true,"waitlist":{"enabled":true,"offer_minutes":20,"policy":"fifo"}}""",
        ["POST /capacity/{id}/check"] = """{"quantity":2}""",
        ["POST /capacity/{id}/reserve"] = """{"quantity":2,"reservation_minutes":15,"pricing_id":"01a1fe71-d367-7b1d-9f6d-30612fc3d060"}""",
        ["POST /reservations"] = """{"items":[{"capacity_id":"01a1fe6e-35c4-74cc-88bc-a16eb640d7f6","quantity":2},{"capacity_id":"01a1fe6e-3633-772d-9dfc-ef1ca9402d59","quantity":1}],"reservation_minutes":15,"buyer_key":"sha256:9f2c41d0"}""",
        ["POST /reservations/{id}/extend"] = """{"minutes":10}""",
        ["PATCH /reservations/{id}"] = """{"items":[{"capacity_id":"01a1fe6e-35c4-74cc-88bc-a16eb640d7f6","quantity":3},{"capacity_id":"01a1fe6e-3633-772d-9dfc-ef1ca9402d59","quantity":0}]}""",
        ["POST /reservations/{id}/confirm"] = """{"items":[{"capacity_id":"01a1fe6e-35c4-74cc-88bc-a16eb640d7f6","quantity":2}],"on_expired":"reclaim"}""",
        ["POST /reservations/{id}/cancel"] = """{"items":[{"capacity_id":"01a1fe6e-35c4-74cc-88bc-a16eb640d7f6","quantity":1}]}""",
        ["POST /capacity/{id}/pricing"] = """{"name":"Adult","base_price":42.50,"service_fee":2.00,"facility_fee":1.00,"tax_rate":0.2,"currency":"EUR"}""",
        ["PUT /pricing/{id}"] = """{"current_price":39.00}""",
        ["POST /capacity/{id}/allocations"] = """{"name":"Box office","quantity":40,"expires_at":"2030-05-01T18:00:00Z"}""",
        ["PUT /allocations/{id}"] = """{"quantity":30,"expires_at":null}""",
        ["POST /allocations/{id}/release"] = """{"quantity":10}""",
        ["POST /events/{eventId}/limits"] = """{"name":"Four per person","capacity_ids":["01a1fe6e-35c4-74cc-88bc-a16eb640d7f6","01a1fe6e-3633-772d-9dfc-ef1ca9402d59"],"per_buyer_max":4,"require_buyer_key":true}""",
        ["PUT /limits/{id}"] = """{"per_buyer_max":6}""",
        ["POST /waitlist"] = """{"items":[{"capacity_id":"01a1fe6e-35c4-74cc-88bc-a16eb640d7f6","quantity":4}],"buyer_key":"sha256:9f2c41d0","external_ref":"order-1187"}""",
        ["POST /admin/tenants"] = """{"name":"Theatre Co"}""",
    };
}
