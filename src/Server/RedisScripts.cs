namespace NnSight.Server;

/// <summary>
/// The Lua scripts that change a replica set's jobs in Redis, each one atomic, so that no crash of a replica or of
/// Redis leaves a job half accepted, half started or half finished. Keys per model and job:
/// <c>{QUEUE_NAME}:jobs:{model}</c> (the stream, consumer group <see cref="RedisJobs.Group"/>; an entry holds
/// <c>job</c> and <c>request</c>), <c>{QUEUE_NAME}:job:{id}</c> (the status hash: owner, model, state, position,
/// message, deliveries), <c>…:events</c> (the status history as JSON) and <c>…:result</c> (the safetensors bytes).
/// See docs/architecture.md#the-job-journal-and-the-redis-queue.
/// </summary>
internal static class RedisScripts
{
    /// <summary>What <see cref="Submit"/> returns first when the job exists already (a repeated submission).</summary>
    public const long JobExists = -2;

    /// <summary>
    /// KEYS: stream, hash, events. ARGV: group, QUEUE_LENGTH, id, owner, model, received, request, RECEIVED event,
    /// channel. Queues the job unless it exists already or QUEUE_LENGTH jobs wait (entries neither delivered nor
    /// acknowledged). Returns {position}, {-1} when the queue is full, or {<see cref="JobExists"/>, state, position,
    /// message} of the existing job.
    /// </summary>
    public const string Submit = """
        if redis.call('EXISTS', KEYS[2]) == 1 then
          local job = redis.call('HMGET', KEYS[2], 'state', 'position', 'message')
          return {-2, job[1], job[2], job[3]}
        end
        local waiting = redis.call('XLEN', KEYS[1]) - redis.call('XPENDING', KEYS[1], ARGV[1])[1]
        if waiting >= tonumber(ARGV[2]) then return {-1} end
        local position = waiting + 1
        redis.call('HSET', KEYS[2], 'owner', ARGV[4], 'model', ARGV[5], 'received', ARGV[6], 'state', 'QUEUED', 'position', position)
        redis.call('XADD', KEYS[1], '*', 'job', ARGV[3], 'request', ARGV[7])
        redis.call('RPUSH', KEYS[3], ARGV[8], cjson.encode({job = ARGV[3], status = 'QUEUED', position = position}))
        redis.call('PUBLISH', ARGV[9], ARGV[5])
        return {position}
        """;

    /// <summary>
    /// KEYS: stream. ARGV: group, consumer, idle milliseconds. Takes over the oldest entry whose replica has been silent
    /// that long (XAUTOCLAIM), else the next undelivered one; returns {entry id, job id, request, deliveries} or nil.
    /// </summary>
    public const string Take = """
        local function field(entry, name)
          for i = 1, #entry[2], 2 do if entry[2][i] == name then return entry[2][i + 1] end end
          return ''
        end
        local entry = nil
        local deliveries = 1
        local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', 1)
        if claimed[2][1] then
          entry = claimed[2][1]
          deliveries = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)[1][4]
        else
          local read = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', KEYS[1], '>')
          if not read or not read[1][2][1] then return nil end
          entry = read[1][2][1]
        end
        return {entry[1], field(entry, 'job'), field(entry, 'request'), deliveries}
        """;

    /// <summary>
    /// KEYS: hash, events. ARGV: consumer, deliveries, RUNNING event, LOG event, channel, id. Marks the job RUNNING;
    /// returns 0 (and changes nothing) when it has already ended or is unknown.
    /// </summary>
    public const string Start = """
        local state = redis.call('HGET', KEYS[1], 'state')
        if not state or state == 'COMPLETED' or state == 'ERROR' then return 0 end
        redis.call('HSET', KEYS[1], 'state', 'RUNNING', 'replica', ARGV[1], 'deliveries', ARGV[2])
        redis.call('HDEL', KEYS[1], 'position')
        redis.call('RPUSH', KEYS[2], ARGV[3], ARGV[4])
        redis.call('PUBLISH', ARGV[5], ARGV[6])
        return 1
        """;

    /// <summary>
    /// KEYS: stream. ARGV: group, consumer, entry id. Resets the entry's idle time while this consumer still owns it
    /// (XCLAIM … JUSTID does not count a delivery); returns 0 when another replica has taken it over.
    /// </summary>
    public const string Heartbeat = """
        local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
        if #pending == 1 and pending[1][2] == ARGV[2] then
          redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
          return 1
        end
        return 0
        """;

    /// <summary>
    /// KEYS: hash, events, result, stream. ARGV: state, message, finished, final event, TTL milliseconds, result bytes,
    /// group, entry id, channel, id. Ends the job once — a second replica finishing the same job changes nothing, so a
    /// client sees one final status and one result — then acknowledges and deletes the stream entry.
    /// </summary>
    public const string Finish = """
        local state = redis.call('HGET', KEYS[1], 'state')
        if state and state ~= 'COMPLETED' and state ~= 'ERROR' then
          redis.call('HSET', KEYS[1], 'state', ARGV[1], 'finished', ARGV[3])
          redis.call('HDEL', KEYS[1], 'position')
          if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'message', ARGV[2]) end
          if ARGV[1] == 'COMPLETED' then redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[5]) end
          redis.call('RPUSH', KEYS[2], ARGV[4])
          redis.call('PEXPIRE', KEYS[1], ARGV[5])
          redis.call('PEXPIRE', KEYS[2], ARGV[5])
          redis.call('PUBLISH', ARGV[9], ARGV[10])
        end
        redis.call('XACK', KEYS[4], ARGV[7], ARGV[8])
        redis.call('XDEL', KEYS[4], ARGV[8])
        return 1
        """;
}
