/*
 * TEST SCAFFOLD, not for deployments: GET / and HEAD / for the integ-test build, which lacks rest-root.
 * The reply carries this server's own name, cluster and build (nothing made up), in the shape clients read.
 */
package org.pressqa.escompat;

import java.util.List;
import java.util.function.Supplier;

import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.bytes.BytesArray;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

public class RootInfoHandler extends BaseRestHandler {

    private final Supplier<ClusterService> cluster;

    RootInfoHandler(Supplier<ClusterService> cluster) {
        this.cluster = cluster;
    }

    @Override
    public String getName() {
        return "pressqa_test_compat_root_info";
    }

    @Override
    public List<Route> routes() {
        return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
        if (request.method() == RestRequest.Method.HEAD) {
            return channel -> channel.sendResponse(new RestResponse(RestStatus.OK, RestResponse.TEXT_CONTENT_TYPE, BytesArray.EMPTY));
        }
        ClusterService service = cluster.get();
        Build build = Build.current();
        return channel -> {
            XContentBuilder body = channel.newBuilder();
            body.startObject();
            body.field("name", service.localNode().getName());
            body.field("cluster_name", service.getClusterName().value());
            body.field("cluster_uuid", service.state().metadata().clusterUUID());
            body.startObject("version");
            body.field("number", build.qualifiedVersion());
            body.field("build_flavor", build.flavor());
            body.field("build_type", build.type().displayName());
            body.field("build_hash", build.hash());
            body.field("build_date", build.date());
            body.field("build_snapshot", build.isSnapshot());
            body.field("lucene_version", org.apache.lucene.util.Version.LATEST.toString());
            body.field("minimum_wire_compatibility_version", build.minWireCompatVersion());
            body.field("minimum_index_compatibility_version", build.minIndexCompatVersion());
            body.endObject();
            body.field("tagline", "You Know, for Search");
            body.endObject();
            channel.sendResponse(new RestResponse(RestStatus.OK, body));
        };
    }
}
