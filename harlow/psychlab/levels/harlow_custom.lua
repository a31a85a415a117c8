--[[ The harlow project's Psychlab Harlow level (loaded by harlow/psychlab/dmlab.py).

DeepMind Lab's stock level (contributed/psychlab/harlow) builds the level from
harlow_factory.lua with the factory's defaults: image ids are drawn from
1..1000 (trainBatch), so a dataset folder with fewer images aborts the whole
process at the first trial. This script builds the same level from the same
factory, with the factory's keyword arguments taken from the Lab config.

How config keys reach a level script: DeepMind Lab consumes its own keys
(width, height, fps, minimalUI, ...) and passes every other key, as a string,
to the script's api:init(params). The Psychlab factory decorates api:init with
decorators/setting_overrides.lua, which copies keys it knows (those of its
envOpts, such as episodeLengthSeconds and datasetPath) and raises 'Invalid
setting' for any other key. So this script takes its own keys (below) out of
params, stores them as numbers in the factory's kwargs table and passes the
rest on. The factory reads kwargs when each episode starts (env:_init and the
trial callbacks), after init, so the values set here are the ones used.

Quirk kept: the factory ignores isTrain=false (`kwargs.isTrain or true`), so ids
are always drawn from 1..trainBatch; held-out evaluation points datasetPath at
a folder holding only the held-out images.

Each episode's image pair is published as the event 'harlow:image_pair' with
two strings: the rewarded and the unrewarded image id (1-based file numbers in
datasetPath). Trial records come from the factory as 'xdata:psychlab' events.

Episodes without a reset (setting 'episodesPerReset', default 1: the stock
behaviour). Each DeepMind Lab reset reloads the level's map, which costs as much
time as a few Harlow episodes of frames. With episodesPerReset = N, the end of
an episode (the last trial's choice) starts the next one in place N - 1 times
before the Lab episode really ends: one frame after that choice, the event
'harlow:episode_end' is published (in the frame that also returns the choice's
reward), a new image pair is drawn from the level's random stream and published,
and the trial count starts again; the cross returns after the usual inter-trial
interval. What differs from a reset: the view stays where it was (no new spawn
angle), and the Lab's episode clock (episodeLengthSeconds) keeps running.
]]

local factory = require 'levels.contributed.psychlab.factories.harlow_factory'
local events = require 'dmlab.system.events'
local random = require 'common.random'

-- Factory keyword arguments read from the config; each value must be a number.
-- tests/fake_deepmind_lab reads this table: keep one quoted key per line.
local FACTORY_SETTINGS = {
    'trainBatch',
    'testBatch',
    'trialsPerEpisodeCap',
    'timeToFixateCross',
    'timeToFixateTarget',
    'fastInterTrialInterval',
    'fixationReward',
    'correctReward',
    'incorrectReward',
    'targetSize',
    'fixationSize',
}

-- This script's own settings; each value must be a number.
-- tests/fake_deepmind_lab reads this table: keep one quoted key per line.
local SCRIPT_SETTINGS = {
    'episodesPerReset',
}

local IMAGE_PAIR_EVENT = 'harlow:image_pair'
local EPISODE_END_EVENT = 'harlow:episode_end'
local episodesPerReset = 1

local isFactorySetting = {}
for _, key in ipairs(FACTORY_SETTINGS) do
  isFactorySetting[key] = true
end

local kwargs = {schema = 'harlow', episodeLengthSeconds = 300}
local api = factory.createLevelApi(kwargs)

local function toNumber(key, value)
  local number = tonumber(value)
  assert(number ~= nil, 'harlow_custom.lua: setting "' .. key ..
         '" must be a number, got "' .. tostring(value) .. '"')
  return number
end

local factoryInit = api.init
function api:init(params)
  local passOn = {}
  for key, value in pairs(params) do
    if isFactorySetting[key] then
      kwargs[key] = toNumber(key, value)
    elseif key == 'episodesPerReset' then
      episodesPerReset = toNumber(key, value)
      assert(episodesPerReset >= 1, 'harlow_custom.lua: episodesPerReset must be >= 1')
    else
      passOn[key] = value
    end
  end
  return factoryInit(self, passOn)
end

local function publishImagePair(harlow)
  events:add(IMAGE_PAIR_EVENT, tostring(harlow.correctID),
             tostring(harlow.incorrectID))
end

-- Draws the next episode's sides and image pair as the factory's reset does.
local function startNextEpisode(harlow)
  harlow.trialNum = 0
  harlow.currentTrial = {}
  harlow._currNumTrialsThisEpisode = 0
  local positions = {}
  for i = 1, harlow.numTrials do
    positions[i] = i <= harlow.numTrials / 2 and 1 or 2
  end
  harlow._targetPositions = random:shuffle(positions)
  harlow.correctID = random:uniformInt(1, harlow._numBatch)
  harlow.incorrectID = random:uniformInt(1, harlow._numBatch - 1)
  if harlow.incorrectID >= harlow.correctID then
    harlow.incorrectID = harlow.incorrectID + 1
  end
  events:add(EPISODE_END_EVENT)
  publishImagePair(harlow)
end

-- Makes the screen's endEpisode start the next episode in place, count - 1 times.
local function continueEpisodes(screen, harlow, count)
  local remaining = count
  local endLabEpisode = screen.endEpisode
  function screen:endEpisode()
    remaining = remaining - 1
    if remaining <= 0 then
      return endLabEpisode(self)
    end
    self:addTimer{
        name = 'harlow_next_episode',
        timeout = 1,
        callback = function() startNextEpisode(harlow) end,
    }
  end
end

local factoryStart = api.start
function api:start(episode, seed)
  local result = factoryStart(self, episode, seed)
  -- api._env is the point-and-click screen; its _env is the factory's Harlow
  -- environment, which drew the pair in its reset.
  local screen = self._env
  local harlow = screen and screen._env
  if harlow and harlow.correctID and harlow.incorrectID then
    publishImagePair(harlow)
    if episodesPerReset > 1 then
      continueEpisodes(screen, harlow, episodesPerReset)
    end
  end
  return result
end

return api
