/*
 * TEST SCAFFOLD, not for deployments: POST /{index}/_delete_by_query for the integ-test build, which lacks
 * the reindex module. Deployments use Elastic's distribution, where reindex serves this endpoint (with
 * slicing, throttling and tasks, none of which is here).
 *
 * How: a scroll over the query's hits (no _source, with seq_no/primary_term), each batch deleted by one bulk
 * request whose deletes carry if_seq_no/if_primary_term (a document changed since the search is a version
 * conflict, as in reindex), then an optional refresh. The reply has reindex's shape: took, timed_out, total,
 * deleted, batches, version_conflicts, noops, retries, throttled_millis, requests_per_second,
 * throttled_until_millis, failures.
 */
package org.pressqa.escompat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.elasticsearch.ExceptionsHelper;
import org.elasticsearch.action.ActionListener;
import org.elasticsearch.action.admin.indices.refresh.RefreshRequest;
import org.elasticsearch.action.bulk.BulkItemResponse;
import org.elasticsearch.action.bulk.BulkRequest;
import org.elasticsearch.action.bulk.BulkResponse;
import org.elasticsearch.action.delete.DeleteRequest;
import org.elasticsearch.action.search.ClearScrollRequest;
import org.elasticsearch.action.search.SearchRequest;
import org.elasticsearch.action.search.SearchResponse;
import org.elasticsearch.action.search.SearchScrollRequest;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.common.Strings;
import org.elasticsearch.core.TimeValue;
import org.elasticsearch.index.query.QueryBuilders;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestChannel;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.search.SearchHit;
import org.elasticsearch.search.builder.SearchSourceBuilder;
import org.elasticsearch.xcontent.ToXContent;
import org.elasticsearch.xcontent.XContentBuilder;
import org.elasticsearch.xcontent.XContentFactory;
import org.elasticsearch.xcontent.XContentParser;

public class DeleteByQueryHandler extends BaseRestHandler {

    private static final TimeValue KEEP_ALIVE = TimeValue.timeValueMinutes(5);

    @Override
    public String getName() {
        return "pressqa_test_compat_delete_by_query";
    }

    @Override
    public List<Route> routes() {
        return List.of(new Route(RestRequest.Method.POST, "/{index}/_delete_by_query"));
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) throws IOException {
        // Parameters not read here stay unconsumed, and BaseRestHandler refuses the request naming them.
        String[] indices = Strings.splitStringByCommaToArray(request.param("index"));
        boolean refresh = request.paramAsBoolean("refresh", false);
        String conflicts = request.param("conflicts", "abort");
        if (Set.of("abort", "proceed").contains(conflicts) == false) {
            throw new IllegalArgumentException("conflicts may only be \"proceed\" or \"abort\" but was [" + conflicts + "]");
        }
        int scrollSize = request.paramAsInt("scroll_size", 1000);
        if (scrollSize < 1) {
            throw new IllegalArgumentException("scroll_size must be at least 1");
        }
        if (request.paramAsBoolean("wait_for_completion", true) == false) {
            throw new IllegalArgumentException("this test scaffold runs _delete_by_query to completion only (wait_for_completion=true)");
        }
        long maxDocs = request.paramAsLong("max_docs", -1);
        if (request.hasContent() == false) {
            throw new IllegalArgumentException("a request body with a query is required");
        }
        Map<String, Object> body;
        try (XContentParser parser = request.contentParser()) {
            body = parser.map();
        }
        Object query = body.remove("query");
        Object bodyMaxDocs = body.remove("max_docs");
        if (bodyMaxDocs instanceof Number number) {
            maxDocs = number.longValue();
        }
        if (body.isEmpty() == false) {
            throw new IllegalArgumentException("unsupported fields in the body of this test scaffold's _delete_by_query: " + body.keySet());
        }
        if (query instanceof Map<?, ?> == false) {
            throw new IllegalArgumentException("query is missing");
        }
        XContentBuilder queryJson = XContentFactory.jsonBuilder().map(castMap(query));
        Run run = new Run(client, indices, Strings.toString(queryJson), scrollSize, maxDocs, conflicts.equals("abort"), refresh);
        return run::start;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, ?> castMap(Object value) {
        return (Map<String, ?>) value;
    }

    /** One request's work: search, delete batch by batch, refresh, reply. */
    private static final class Run {
        private final NodeClient client;
        private final String[] indices;
        private final String query;
        private final int scrollSize;
        private final long maxDocs;
        private final boolean abortOnConflict;
        private final boolean refresh;
        private final long startNanos = System.nanoTime();
        private final List<BulkItemResponse.Failure> failures = new ArrayList<>();
        private RestChannel channel;
        private String scrollId;
        private long total;
        private long processed;
        private long deleted;
        private long batches;
        private long versionConflicts;

        Run(NodeClient client, String[] indices, String query, int scrollSize, long maxDocs, boolean abortOnConflict, boolean refresh) {
            this.client = client;
            this.indices = indices;
            this.query = query;
            this.scrollSize = scrollSize;
            this.maxDocs = maxDocs;
            this.abortOnConflict = abortOnConflict;
            this.refresh = refresh;
        }

        void start(RestChannel channel) {
            this.channel = channel;
            int size = maxDocs > 0 ? (int) Math.min(scrollSize, maxDocs) : scrollSize;
            SearchSourceBuilder source = new SearchSourceBuilder().query(QueryBuilders.wrapperQuery(query))
                .size(size)
                .sort("_doc")
                .fetchSource(false)
                .seqNoAndPrimaryTerm(true)
                .trackTotalHits(true);
            client.search(new SearchRequest(indices).source(source).scroll(KEEP_ALIVE), ActionListener.wrap(this::onHits, this::fail));
        }

        private void onHits(SearchResponse response) {
            scrollId = response.getScrollId();
            if (response.getFailedShards() > 0) {
                fail(new IllegalStateException("search of _delete_by_query failed on " + response.getFailedShards() + " shards: "
                    + response.getShardFailures()[0].reason()));
                return;
            }
            if (batches == 0) {
                long hits = response.getHits().getTotalHits().value;
                total = maxDocs > 0 ? Math.min(hits, maxDocs) : hits;
            }
            BulkRequest bulk = new BulkRequest();
            for (SearchHit hit : response.getHits().getHits()) {
                if (processed + bulk.numberOfActions() >= total) {
                    break;
                }
                bulk.add(new DeleteRequest(hit.getIndex(), hit.getId()).setIfSeqNo(hit.getSeqNo()).setIfPrimaryTerm(hit.getPrimaryTerm()));
            }
            if (bulk.numberOfActions() == 0) {
                finish();
                return;
            }
            batches++;
            client.bulk(bulk, ActionListener.wrap(this::onDeleted, this::fail));
        }

        private void onDeleted(BulkResponse response) {
            for (BulkItemResponse item : response.getItems()) {
                processed++;
                if (item.isFailed() == false) {
                    deleted++;
                } else if (item.getFailure().getStatus() == RestStatus.CONFLICT) {
                    versionConflicts++;
                    if (abortOnConflict) {
                        failures.add(item.getFailure());
                    }
                } else {
                    failures.add(item.getFailure());
                }
            }
            if (failures.isEmpty() == false || processed >= total) {
                finish();
                return;
            }
            client.searchScroll(new SearchScrollRequest(scrollId).scroll(KEEP_ALIVE), ActionListener.wrap(this::onHits, this::fail));
        }

        private void clearScroll() {
            if (scrollId != null) {
                ClearScrollRequest clear = new ClearScrollRequest();
                clear.addScrollId(scrollId);
                client.clearScroll(clear, ActionListener.noop());
                scrollId = null;
            }
        }

        private void finish() {
            clearScroll();
            if (refresh) {
                client.admin().indices().refresh(new RefreshRequest(indices), ActionListener.wrap(r -> reply(), this::fail));
            } else {
                reply();
            }
        }

        private void reply() {
            try {
                channel.sendResponse(new RestResponse(replyStatus(), replyBody()));
            } catch (IOException e) {
                fail(e);
            }
        }

        private RestStatus replyStatus() {
            RestStatus status = RestStatus.OK;
            for (BulkItemResponse.Failure failure : failures) {
                if (failure.getStatus().getStatus() > status.getStatus()) {
                    status = failure.getStatus();
                }
            }
            return status;
        }

        private XContentBuilder replyBody() throws IOException {
            XContentBuilder body = channel.newBuilder();
            body.startObject();
            body.field("took", (System.nanoTime() - startNanos) / 1_000_000);
            body.field("timed_out", false);
            body.field("total", total);
            body.field("deleted", deleted);
            body.field("batches", batches);
            body.field("version_conflicts", versionConflicts);
            body.field("noops", 0);
            body.startObject("retries").field("bulk", 0).field("search", 0).endObject();
            body.field("throttled_millis", 0);
            body.field("requests_per_second", -1.0f);
            body.field("throttled_until_millis", 0);
            body.startArray("failures");
            for (BulkItemResponse.Failure failure : failures) {
                body.startObject();
                failure.toXContent(body, ToXContent.EMPTY_PARAMS);
                body.endObject();
            }
            body.endArray();
            return body.endObject();
        }

        private void fail(Exception error) {
            clearScroll();
            try {
                channel.sendResponse(new RestResponse(channel, ExceptionsHelper.status(error), error));
            } catch (IOException e) {
                e.addSuppressed(error);
                channel.sendResponse(new RestResponse(RestStatus.INTERNAL_SERVER_ERROR, RestResponse.TEXT_CONTENT_TYPE,
                    new org.elasticsearch.common.bytes.BytesArray(e.toString())));
            }
        }
    }
}
